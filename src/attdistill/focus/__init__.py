"""Focused crops ("Focused Attention for Action Recognition", Sydorov, Alahari and Schmid, BMVC 2019).

* :mod:`.saliency`: the input-gradient saliency of a frozen network (Eq. 3-5) reduced to one (H, W) map per clip;
* :mod:`.box`: the fixed-size box of largest summed saliency (Eq. 6), the crop / resize / flip geometry of the
  network input (θ of Eq. 1) with its inverse, the focused view re-cut from the stored frames (Eq. 2), and the
  controls (centre, random and "(upscaled)" crops).

Imports: data and models only (``config <- data <- models <- focus <- methods``).
"""
