"""Image workflows: engine images, jobs (create, run, cancel, retry, stale detection), build contexts."""
