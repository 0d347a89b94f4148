"""Reports of recorded sessions: `gazeserve analyze VIDEO... --report DIR`.

Per input, a folder with `frames.csv` (one row per frame and face), `events.csv` (blinks,
fixations, on/off-screen spans), `summary.json`, PNG plots and an `index.html` showing them
together; columns and figures are described in `docs/report.md`.

- `inputs`: what was given (videos, image files, folders) and the report folder;
- `sessions`: frames through the engine, faces indexed across frames (`tracks` for several);
- `rows`: the CSV rows and columns; `summary` and `aggregate`: the figures, in bounded memory;
- `plots`, `html`: the pictures and the page; `writer`: one report folder;
- `analyze`: the command's loop, and the per-frame output on stdout (JSON lines or CSV).

Nothing here is imported by `gazeserve.cli` until `analyze` runs; matplotlib only when plotting.
"""
