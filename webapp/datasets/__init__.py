"""Datasets: uploads, validation, processing, health reports, splits, versions and storage.

For the experiment side:
    dataset.splits()         training.Splits of absolute paths: the stored split of this version
    dataset.channel_stats()  (mean, std) per RGB channel on the 0-1 scale, from the training split
    dataset.local_path()     the image folder on this host (extracted from storage into the cache once)

Modules, each importing only those before it: rejection (what makes an upload unacceptable, and its
message; layouts are read by training.layout), archives (safe zip reading), storage (what is kept:
names, packing, saving and deleting through Django's storage API), cache (each host's extracted
copies and their lock), health (the health report's checks), analysis (every image checked;
statistics; the split), models, notices (messages of rejected uploads), processing (the pipeline the
Celery task runs), tasks, intake (starting a dataset from each source), access, forms, pages (what
the pages show), preview (the augmentation preview), views, api, admin.
"""
