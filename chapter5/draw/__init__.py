"""``python -m chapter5.draw``: a page to draw a digit on and watch a trained network read it (see __main__)."""
