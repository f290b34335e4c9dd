"""Benchmarks: speed of the distilled student vs a two-stream network (paper §4.3), and of the flow code.

"During testing our model does not need optical flow, and runs at the same speed as the RGB network (about 100 times
faster than a two stream network)" (Attention Distillation for Learning Video Representations, §4.3, citing MARS).
:func:`attdistill.benchmark.speed.run_benchmark` (the ``benchmark`` stage, ``reports/speed.json``) measures, in one
run and on one input clip (the first test video of the current dataset that has a frame pack, else a synthetic
clip, :mod:`.inputs`):

(a) **student** clips/s vs **two-stream** clips/s *including the flow of the clip* (:mod:`.inference`);
    ``ratio`` is student clips/s / two-stream clips/s.
(b) **flow** frames/s of the flow stage's own code path vs a bare OpenCV loop on the same frames (:mod:`.flow`).

Protocol: ``benchmark.clips`` clips per repeat, ``benchmark.repeats`` repeats, one warm-up first, the repeats of the
two sides of a comparison alternated (so a change of machine load hits both alike), the median repeat reported (and
every repeat recorded); torch and OpenCV threads fixed (2 on this project's machine) (:mod:`.timing`). The stage sets
``OMP_WAIT_POLICY=PASSIVE`` before torch loads: with spinning OpenMP threads, torch and OpenCV's TV-L1 threads fight
over the 2 cores in the two-stream loop and the two-stream rate halves (the ratio would be inflated). Trained weights
are used where the model files given exist, randomly initialised networks of the configured architecture otherwise
(speed does not depend on the weights); ``weights`` records which.

Modules: :mod:`.speed` (the report), :mod:`.inference`, :mod:`.flow` (also the flow-settings table of docs/flow.md:
``python -m attdistill.benchmark.flow``), :mod:`.inputs`, :mod:`.timing`, and :mod:`.flow_pattern` (synthetic frames
with known motion, shared with the tests).
"""
