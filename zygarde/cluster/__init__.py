"""Clustering: K-means, DBSCAN and Agglomerative on a table's numeric columns."""
