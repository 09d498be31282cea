"""Tabular training: ensembles on a table and a target (datasets, preprocessing, algorithms, CV objective)."""
