"""The plan of a route (plan.py), running it per request (run.py), and what a provider can do
beyond returning a value (hooks.py). FastAPI's and pydantic's internals reach these modules
only through service/kit/http/routing.py, the one module pinned to the installed versions."""
