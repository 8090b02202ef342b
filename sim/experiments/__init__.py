"""The machinery of many runs, under `sim.sweep` and `sim.sensitivity`.

- `plan`: what a sweep runs: seeds, grid points (or any list of points), each point's
  resolved scenario validated and hashed before anything runs, run directory names, and the
  `rexsim run` line that reproduces each run;
- `store`: the sweep's directory: its manifest (`sweep.json`), the journal of finished runs
  (`sweep-runs.jsonl`), resuming, refusing another configuration, the final tables;
- `executors`: the same runs in this process, a process pool or on a Dask cluster, with a
  worker that dies retried once;
- `limits`: how large a sweep may grow before it asks for `--yes` (runs, disk);
- `stats`: means, standard deviations and Student-t intervals, plain and paired by seed;
- `tables`: typed CSV cells, and tables handed out as pandas DataFrames or light `Table`s.
"""
