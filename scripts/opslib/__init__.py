"""Process, port and wait helpers for Marquee's operations scripts (scripts/cluster, scripts/faults).

Standard library only (Python 3 from Debian). Every process a script starts is recorded under its state
folder (`run/<name>.json`: pid, argv, ports); stop and kill act only on recorded pids whose command line still
matches, never on a process found by name.
"""
