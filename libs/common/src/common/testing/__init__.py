"""Real parts for tests: a throwaway Postgres cluster, a moto S3 server, service processes."""
