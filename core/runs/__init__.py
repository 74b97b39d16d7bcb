"""Runs outside the engine: background jobs, saved runs and checkpoints.

- ``jobs.py``: trainings and sweeps in background threads, with a stop, a visitor watchdog
  and a process-wide limit on how many run at once.
- ``store.py``: finished runs saved to ``runs/`` and listed again after a restart.
- ``owner.py``: which server process trains a run saved in progress, and whether it still lives
  (processes sharing one runs folder).
- ``checkpoint.py``: a model and its settings as one msgpack file, never unpickled.
- ``memory.py``: the memory budget of the finished models visitors keep, per visitor and per
  server; saved ones over it leave memory and are read back from ``runs/`` on use.
- ``priority.py``: training threads at a lower CPU priority than the pages.
- ``scheduler.py``: fair turns for every training of the process, one compiled chunk at a time
  (``SCHEDULER``), and the dashboard's pacing of a job (``JobControls``).
- ``slots.py``: how many background jobs run at once, and which waiting visitor's job goes next.
- ``sweep_job.py``: a sweep in a background thread, streaming each value's results.
- ``autosave.py``: training that writes a checkpoint after every epoch, so a killed process loses at most one.
"""
