-- One PostgreSQL for the stack: Prefect's database is created by the image (POSTGRES_DB); MLflow's here.
CREATE DATABASE mlflow;
