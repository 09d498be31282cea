"""The search: what to try next (``samplers/``), when to stop a trial (``schedulers/``), where trials run
(``engine``), what they are (``trials``, ``objective``) and what a search keeps to survive a crash
(``journal``, ``checkpoints``). ``factory`` turns the user's ``--search`` into a sampler.

Modules are imported by their own names (``zygarde.search.engine``): a Dask worker that only runs trials
imports none of the driver's parts."""
