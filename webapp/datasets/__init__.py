"""Datasets: uploads, validation, processing, health reports, splits, versions and storage.

For the experiment side:
    dataset.splits()         training.Splits of absolute paths: the stored split of this version
    dataset.channel_stats()  (mean, std) per RGB channel on the 0-1 scale, from the training split
    dataset.local_path()     the image folder on this host (extracted from storage into the cache once)

Layouts (paths -> classes and splits) are read by `training.layout`, as `python -m training` reads them.
Modules: archives (safe zip reading), analysis (every image
checked; statistics; health report), content (storage and the worker cache), processing (the
pipeline the Celery task runs), intake (starting a dataset from each source), presentation (what
pages and endpoints show), notices (messages of rejected uploads).
"""
