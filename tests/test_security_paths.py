"""Error messages and logs never show server paths: the experiment's error and log, the form's checks,
and a dataset's failure name files by their last component only."""

from __future__ import annotations

import pytest

from webapp.core.paths import hide_paths
from webapp.experiments.files import final_model_path
from webapp.experiments.states import Status

pytestmark = pytest.mark.django_db


def test_server_paths_are_cut_to_their_last_component_and_the_rest_is_kept(settings):
    media, checkpoints = settings.MEDIA_ROOT, settings.CHECKPOINT_ROOT
    assert hide_paths(f"no image folder at {media}/datasets/x1") == "no image folder at x1"
    assert hide_paths(f"{checkpoints}/experiment-7/model.pt holds a resnet18") == "model.pt holds a resnet18"
    assert "/" not in hide_paths(f"cannot write to {settings.DATA_DIR}: full")
    # Not the server's: URLs, fractions, and names a user wrote (an archive's entries, quoted in a rejection).
    for kept in (
        "get it from https://download.pytorch.org/models/r.pth",
        "lr 1/2 of a/b",
        "Absolute paths: /etc/cron.d/x.png",
    ):
        assert hide_paths(kept) == kept


def test_an_experiments_error_and_log_hold_no_server_path(make_experiment, settings):
    experiment = make_experiment()
    checkpoint = final_model_path(experiment.pk)
    experiment.append_log(f"resuming from {checkpoint}")
    experiment.finish(Status.FAILED, error=f"FileNotFoundError: {checkpoint} is missing")
    experiment.refresh_from_db()
    assert str(settings.DATA_DIR) not in experiment.log and str(settings.CHECKPOINT_ROOT) not in experiment.error
    assert experiment.error == "FileNotFoundError: model.pt is missing"
