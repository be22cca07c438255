"""The other sources: a folder on the server registered by an admin, torchvision's MNIST, Fashion-MNIST
and CIFAR-10 from their original files (tiny ones, written here in the real formats), and the built-in
demo data made without any download."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from tests.datasets_files import stored_files, write_cifar10, write_mnist
from tests.images import class_entries, truncated_png
from webapp.datasets.models import Dataset, DatasetSource, DatasetStatus
from webapp.datasets.tasks import process_dataset

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:datasets_dataset_add")


def admin_add(admin_client, team, capture, **fields):
    data = {
        "team": team.pk,
        "name": "From source",
        "description": "",
        "add_source": "folder",
        "folder": "",
        "torchvision": "",
        "torchvision_folder": "",
        "split_seed": 0,
        "val_fraction": 0.2,
        "test_fraction": 0.2,
        "_save": "Save",
        **fields,
    }
    with capture():
        response = admin_client.post(ADD_URL, data)
    return response


def processed(response) -> Dataset:
    assert response.status_code == 302, response.context["adminform"].form.errors
    dataset = Dataset.objects.latest("pk")
    process_dataset.apply(args=[dataset.pk])
    return Dataset.objects.filter(pk=dataset.pk).first()


@pytest.fixture
def server_root(settings, tmp_path) -> Path:
    root = tmp_path / "shared"
    root.mkdir()
    settings.DATASET_FOLDER_ROOTS = [root]
    return root


def write_folder(folder: Path, entries: dict[str, bytes]) -> Path:
    for name, data in entries.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


# --- a server folder ---------------------------------------------------------------------------------
def test_an_admin_registers_a_server_folder_read_in_place(
    admin_client, team, server_root, django_capture_on_commit_callbacks
):
    folder = write_folder(server_root / "leaves", class_entries(3, 6))
    dataset = processed(admin_add(admin_client, team, django_capture_on_commit_callbacks, folder=str(folder)))
    assert dataset.status == DatasetStatus.READY, dataset.error
    assert dataset.source == DatasetSource.FOLDER and dataset.path == folder and not dataset.archive
    assert dataset.num_images == 18
    assert all(p.startswith(str(folder)) for p, _ in dataset.splits().train)  # no copy is made


@pytest.mark.parametrize(
    "where, message",
    [
        ("relative/path", "is not an absolute path"),
        ("/etc", "is outside the folders datasets may be registered from"),
        ("{root}/../escape", "is outside the folders"),
        ("{root}/missing", "There is no folder at"),
    ],
)
def test_a_server_folder_outside_the_allowed_roots_is_refused(
    admin_client, team, server_root, where, message, django_capture_on_commit_callbacks
):
    (server_root.parent / "escape").mkdir(exist_ok=True)
    response = admin_add(admin_client, team, django_capture_on_commit_callbacks, folder=where.format(root=server_root))
    assert response.status_code == 200
    assert message in response.context["adminform"].form.errors["folder"][0]
    assert not Dataset.objects.exists()


def test_a_bad_server_folder_is_rejected_and_its_files_are_left_alone(
    admin_client, team, server_root, django_capture_on_commit_callbacks
):
    folder = write_folder(server_root / "leaves", {**class_entries(2, 6), "class_0/cut.png": truncated_png()})
    files_before = sorted(p.name for p in folder.rglob("*"))
    assert processed(admin_add(admin_client, team, django_capture_on_commit_callbacks, folder=str(folder))) is None
    assert sorted(p.name for p in folder.rglob("*")) == files_before  # someone else's data: never touched
    assert "class_0/cut.png" in admin_client.get(reverse("admin:datasets_dataset_changelist")).content.decode()


def test_a_changed_server_folder_under_a_used_version_fails_revalidation(
    admin_client, team, owner, server_root, django_capture_on_commit_callbacks
):
    from webapp.experiments.models import Experiment

    folder = write_folder(server_root / "leaves", class_entries(2, 6))
    dataset = processed(admin_add(admin_client, team, django_capture_on_commit_callbacks, folder=str(folder)))
    Experiment.objects.create(team=team, owner=owner, dataset=dataset, name="uses it", config={})
    write_folder(folder, class_entries(1, 1, names=["class_0"], seed=5, size=(13, 13)))  # one image replaced
    with django_capture_on_commit_callbacks():
        admin_client.post(
            reverse("admin:datasets_dataset_changelist"), {"action": "revalidate", "_selected_action": [dataset.pk]}
        )
    process_dataset.apply(args=[dataset.pk])
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.FAILED
    assert "The images changed since experiments used this version" in dataset.error


# --- torchvision originals -----------------------------------------------------------------------
def test_mnist_is_imported_from_its_original_gzipped_files(
    admin_client, team, tmp_path, django_capture_on_commit_callbacks
):
    folder = write_mnist(tmp_path / "mnist", train_per_class=6, test_per_class=2, classes=3)
    dataset = processed(
        admin_add(
            admin_client,
            team,
            django_capture_on_commit_callbacks,
            add_source="torchvision",
            torchvision="mnist",
            torchvision_folder=str(folder),
        )
    )
    assert dataset.status == DatasetStatus.READY, dataset.error
    assert dataset.source == DatasetSource.TORCHVISION
    assert dataset.classes == ["0 - zero", "1 - one", "2 - two"]
    assert dataset.fixed_split and dataset.report["split_origin"]["val"] == "drawn"
    assert {s: sum(c.values()) for s, c in dataset.split_counts.items()} == {"train": 15, "val": 3, "test": 6}
    assert dataset.report["sizes"]["min"] == [28, 28] and dataset.report["modes"] == {"L": 24}


def test_fashion_mnist_is_imported_from_unpacked_files_in_torchvisions_layout(
    admin_client, team, tmp_path, django_capture_on_commit_callbacks
):
    write_mnist(tmp_path / "tv" / "FashionMNIST" / "raw", gz=False)
    dataset = processed(
        admin_add(
            admin_client,
            team,
            django_capture_on_commit_callbacks,
            add_source="torchvision",
            torchvision="fashion-mnist",
            torchvision_folder=str(tmp_path / "tv"),
        )
    )
    assert dataset.status == DatasetStatus.READY, dataset.error
    assert dataset.classes == ["Pullover", "T-shirt or top", "Trouser"]  # "T-shirt/top" cannot name a folder


def test_cifar10_is_imported_from_its_original_archive(
    admin_client, team, tmp_path, django_capture_on_commit_callbacks
):
    folder = write_cifar10(tmp_path / "cifar", per_batch=6, classes=3)
    dataset = processed(
        admin_add(
            admin_client,
            team,
            django_capture_on_commit_callbacks,
            add_source="torchvision",
            torchvision="cifar10",
            torchvision_folder=str(folder),
        )
    )
    assert dataset.status == DatasetStatus.READY, dataset.error
    assert dataset.classes == ["airplane", "automobile", "bird"]
    assert dataset.num_images == 36 and sum(dataset.split_counts["test"].values()) == 6
    assert dataset.report["sizes"]["min"] == [32, 32] and dataset.report["modes"] == {"RGB": 36}


def test_missing_original_files_are_named_when_there_is_no_download(
    admin_client, team, tmp_path, django_capture_on_commit_callbacks
):
    folder = write_mnist(tmp_path / "partial")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    response = admin_add(
        admin_client,
        team,
        django_capture_on_commit_callbacks,
        add_source="torchvision",
        torchvision="mnist",
        torchvision_folder=str(folder),
    )  # "download" left unticked
    message = response.context["adminform"].form.errors["torchvision_folder"][0]
    assert "MNIST needs its original files in" in message and str(folder) in message
    assert "Missing: t10k-labels-idx1-ubyte.gz" in message and "https://" in message
    assert not Dataset.objects.exists()


def test_downloads_can_be_switched_off_for_the_whole_site(
    admin_client, team, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.DATASET_DOWNLOADS = False
    response = admin_add(
        admin_client,
        team,
        django_capture_on_commit_callbacks,
        add_source="torchvision",
        torchvision="cifar10",
        torchvision_folder=str(tmp_path / "empty"),
        download="on",
    )
    message = response.context["adminform"].form.errors["torchvision_folder"][0]
    assert "CIFAR-10 needs its original files" in message and "cifar-10-python.tar.gz" in message


def test_a_cifar_file_that_would_run_code_is_refused(admin_client, team, tmp_path, django_capture_on_commit_callbacks):
    import io
    import pickle
    import tarfile

    folder = write_cifar10(tmp_path / "cifar")
    evil = pickle.dumps({b"data": __import__("os").system, b"labels": []}, protocol=2)  # a pickle that names os.system
    with tarfile.open(folder / "cifar-10-python.tar.gz", "r:gz") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    members["cifar-10-batches-py/data_batch_3"] = evil
    with tarfile.open(folder / "cifar-10-python.tar.gz", "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    before = stored_files()
    assert (
        processed(
            admin_add(
                admin_client,
                team,
                django_capture_on_commit_callbacks,
                add_source="torchvision",
                torchvision="cifar10",
                torchvision_folder=str(folder),
            )
        )
        is None
    )
    assert stored_files() == before
    listing = admin_client.get(reverse("admin:datasets_dataset_changelist")).content.decode()
    assert "is not allowed in a CIFAR-10 file" in listing.replace("&#x27;", "'")


def test_a_damaged_idx_file_is_rejected_with_its_name(admin_client, team, tmp_path, django_capture_on_commit_callbacks):
    folder = write_mnist(tmp_path / "mnist")
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03 not really"))
    assert (
        processed(
            admin_add(
                admin_client,
                team,
                django_capture_on_commit_callbacks,
                add_source="torchvision",
                torchvision="mnist",
                torchvision_folder=str(folder),
            )
        )
        is None
    )
    listing = admin_client.get(reverse("admin:datasets_dataset_changelist")).content.decode()
    assert "MNIST: the train files are not in the IDX format" in listing


# --- built-in -------------------------------------------------------------------------------------
def test_the_demo_dataset_is_made_without_any_download(settings):
    call_command("create_demo_dataset", team="Builtin team")
    dataset = Dataset.objects.get(team__name="Builtin team")
    assert dataset.source == DatasetSource.BUILTIN and dataset.status == DatasetStatus.READY
    assert dataset.num_images == 1797 and len(dataset.classes) == 10
    assert dataset.report["modes"] == {"L": 1797} and len(dataset.mean) == 3
    assert sum(dataset.split_counts["test"].values()) > 0
    # Running it again keeps the one dataset.
    call_command("create_demo_dataset", team="Builtin team")
    assert Dataset.objects.filter(team__name="Builtin team").count() == 1
    shutil.rmtree(dataset.path, ignore_errors=True)


# --- the command line ------------------------------------------------------------------------------
def test_the_command_line_adds_a_server_folder_and_processes_it_now(team, server_root, capsys):
    folder = write_folder(server_root / "leaves", class_entries(2, 6))
    call_command("add_dataset", team=team.name, name="Leaves", folder=str(folder), now=True, seed=3)
    dataset = Dataset.objects.get(name="Leaves")
    assert dataset.is_ready and dataset.split_seed == 3 and dataset.root == str(folder)
    assert "Leaves v1: 12 images in 2 classes" in capsys.readouterr().out


def test_the_command_line_imports_mnist_now(team, tmp_path):
    folder = write_mnist(tmp_path / "mnist")
    call_command("add_dataset", team=team.name, name="MNIST", torchvision="mnist", files=str(folder), now=True)
    assert Dataset.objects.get(name="MNIST").num_images == 24


def test_the_command_line_rejects_a_bad_zip_with_its_message_and_leaves_nothing(team, tmp_path):
    from django.core.management.base import CommandError

    from tests.images import zip_bytes

    archive = tmp_path / "bad.zip"
    archive.write_bytes(zip_bytes({**class_entries(2, 6), "class_1/cut.png": truncated_png()}))
    before = stored_files()
    with pytest.raises(CommandError, match=r"Corrupt or truncated images \(1\): class_1/cut.png"):
        call_command("add_dataset", team=team.name, name="Bad", zip=str(archive), now=True)
    assert not Dataset.objects.exists() and stored_files() == before
    archive.write_bytes(zip_bytes({**class_entries(2, 6), "../up.png": b"x"}))
    with pytest.raises(CommandError, match=r"Paths that escape the folder \(\.\.\) \(1\): \.\./up\.png"):
        call_command("add_dataset", team=team.name, name="Bad", zip=str(archive), now=True)
