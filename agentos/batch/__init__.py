"""`agentos batch`: many issues at once, each run exactly as `orchestrate --issue N` would run it.

select.py picks and orders the issues, record.py keeps the batch's record, worker.py runs one
issue in its own process, pool.py is the local engine (a pool of worker processes), run.py
ties them together with the shared limits (llm/limits.py), view.py shows the batch.
"""
