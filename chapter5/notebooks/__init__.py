"""The chapter's notebooks, one per section (``*.ipynb`` here); ``python -m chapter5.notebooks`` executes them."""
