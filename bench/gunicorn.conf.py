"""The production gunicorn settings, used by the benchmark and by docs/deploy.md."""
import multiprocessing
import os

bind = os.environ.get("LECTUREHUB_BIND", "127.0.0.1:8000")
# Two processes per core; threads cover the time a request waits on the database.
workers = int(os.environ.get("LECTUREHUB_WORKERS", multiprocessing.cpu_count() * 2))
worker_class = "gthread"
threads = int(os.environ.get("LECTUREHUB_THREADS", 4))
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = None
preload_app = False
