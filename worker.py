"""Run the Relance worker (same as `relance worker`)."""

from relance.process import end_process
from relance.settings import get_settings
from relance.worker_runtime import main

if __name__ == "__main__":
    main(get_settings())
    end_process(0)
