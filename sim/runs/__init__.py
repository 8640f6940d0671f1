"""Runs of replications: the runner (`runner`), where they run (`parallel`: this process, local
processes, Dask) and the results with their safe writes to disk (`results`)."""
