"""The web application: FastAPI + Jinja2 + htmx pages, each also served as JSON."""
