"""`relance serve`: the HTTP door for other systems and other departments (FastAPI)."""
