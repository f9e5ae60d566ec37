"""The production gunicorn settings, used by the benchmark and by docs/deploy.md."""
import ctypes
import gc
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

# glibc's malloc (mallopt parameters; see mallopt(3))
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_LARGE = 128 * 1024


def post_fork(server, worker):
    """Give large buffers back to the system when they are freed: every sign-in's argon2id buffer (19 MiB) and
    a big report's. By default glibc raises its mmap threshold after the first such buffer is freed, then keeps
    later ones in the heap, so each worker held some 20 MB more for the rest of its life (measured with a test
    program: 32 → 13 MB resident after hashing on a thread; docs/performance.md has the workers' figures)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return  # not glibc (musl, macOS): its own defaults apply
    libc.mallopt(_M_MMAP_THRESHOLD, _LARGE)
    libc.mallopt(_M_TRIM_THRESHOLD, _LARGE)


def post_worker_init(worker):
    """Leave what the app built at start-up (some 140,000 objects: modules, templates, mappers) out of the garbage
    collector's full passes. A report allocates tens of thousands of objects, which set off full passes that walked
    all of those every time: a course matrix of 10,000 cells took 146 ms in-process, 80 ms with them frozen
    (gc.freeze, as the Python documentation suggests for forking servers)."""
    gc.freeze()
