"""Who may do what, on every route: the matrix below has one entry per URL name (and per websocket
route), and the routes are read from the URL configuration and the websocket routing, so a new route
without an entry fails `test_every_route_has_an_entry`. Each entry is checked for the five kinds of
visitor: anonymous, outsider (a member of another team), viewer, member, and a superuser who is in no
team (team data stays the team's: a superuser works with it in the admin)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.apps import apps
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authtoken.models import Token

from tests.conftest import PASSWORD
from tests.helpers import folder_dataset
from tests.results_helpers import trained_run
from tests.sweep_helpers import sweep_with_trial
from webapp.datasets.models import ChunkedUpload, Rejection
from webapp.experiments.models import EpochMetric, Experiment
from webapp.routing import websocket_urlpatterns
from webapp.teams.models import Role

ROLES = ("anonymous", "outsider", "viewer", "superuser", "member")  # member last: its writes change things


@dataclass
class Case:
    method: str
    # The object in the URL: "experiment" (a new queued one), "finished" (a finished run with its final
    # model), "export" (its model card), "test_image" (its first test image), "dataset", "sample" (dataset,
    # class 0, image 0), "sweep" (a new running sweep with one trial).
    on: str | None
    expect: dict[str, int]
    data: dict = field(default_factory=dict)
    query: str = ""  # formatted with the world's pks: {finished}, {experiment}


def team_read(on: str, anonymous: int = 302, ok: int = 200, **kw) -> Case:
    """A team object: members and viewers see it; outsiders and non-member superusers get 404."""
    expect = {"anonymous": anonymous, "outsider": 404, "viewer": ok, "member": ok, "superuser": 404}
    return Case("get", on, expect, **kw)


def team_write(method: str, on: str, member: int, anonymous: int = 302, **kw) -> Case:
    """A change to a team object: members only; viewers get 403."""
    expect = {"anonymous": anonymous, "outsider": 404, "viewer": 403, "member": member, "superuser": 404}
    return Case(method, on, expect, **kw)


def signed_in(method: str = "get", anonymous: int = 302, ok: int = 200, **kw) -> Case:
    """A page or list of the user's own teams: anyone signed in (an empty list for a superuser)."""
    expect = {"anonymous": anonymous, "outsider": ok, "viewer": ok, "member": ok, "superuser": ok}
    return Case(method, None, expect, **kw)


def creating(anonymous: int, invalid: int, **kw) -> Case:
    """Making something new in one of the user's teams: refused to whoever can write in none."""
    expect = {"anonymous": anonymous, "outsider": invalid, "viewer": 403, "member": invalid, "superuser": 403}
    return Case("post", None, expect, **kw)


def everyone(status: int, method: str = "get") -> Case:
    return Case(method, None, dict.fromkeys(ROLES, status))


API = 403  # what the API answers anonymous requests (session auth first, so no WWW-Authenticate challenge)
MATRIX: dict[str, list[Case]] = {
    "login": [everyone(200)],
    "logout": [everyone(302, "post")],
    "dashboard": [signed_in()],
    "experiment_tables": [signed_in()],
    "experiment_create": [
        Case("get", None, {"anonymous": 302, "outsider": 200, "viewer": 200, "member": 200, "superuser": 200}),
        # The form again, with its errors: a viewer's has no dataset to choose (test_experiment_pages.py).
        signed_in("post"),
    ],
    "experiment_detail": [team_read("experiment")],
    "experiment_cancel": [team_write("post", "experiment", 302)],
    "experiment_resume": [team_write("post", "experiment", 302)],
    "experiment_extend": [team_write("post", "experiment", 302)],
    "experiment_notes": [team_write("post", "experiment", 302, data={"notes": "hello"})],
    "workers": [signed_in()],
    "dataset_list": [signed_in()],
    "dataset_upload": [
        Case("get", None, {"anonymous": 302, "outsider": 200, "viewer": 403, "member": 200, "superuser": 403}),
        creating(302, 200),
    ],
    "dataset_detail": [team_read("dataset")],
    "dataset_augment": [team_read("dataset")],
    "dataset_sample": [team_read("sample")],
    # The matrix's dataset is read in place, so it has no archive (the download: tests/test_storage_s3.py).
    "dataset_archive": [team_read("dataset", ok=404)],
    "api_schema": [everyone(200)],
    "api_docs": [everyone(200)],
    "api_redoc": [everyone(200)],
    "api_team_list": [signed_in(anonymous=API)],
    "api_workers": [signed_in(anonymous=API)],  # another team's run: {"visible": false} (test_gpu_classes.py)
    "api_experiment_list": [signed_in(anonymous=API), creating(API, 400, data={"name": "x"})],
    "api_resolve_config": [signed_in("post", anonymous=API, ok=400)],
    "api_experiment_detail": [
        team_read("experiment", anonymous=API),
        team_write("patch", "experiment", 200, anonymous=API, data={"pinned": True}),
    ],
    "api_experiment_metrics": [team_read("experiment", anonymous=API)],
    "api_experiment_cancel": [team_write("post", "experiment", 200, anonymous=API)],
    "api_experiment_resume": [team_write("post", "experiment", 409, anonymous=API)],  # it is queued
    "api_experiment_extend": [team_write("post", "experiment", 400, anonymous=API)],  # no epochs given
    "api_dataset_list": [signed_in(anonymous=API), creating(API, 400)],
    "api_dataset_detail": [team_read("dataset", anonymous=API)],
    "api_dataset_versions": [team_read("dataset", anonymous=API)],
    "api_dataset_status": [team_read("dataset", anonymous=API)],
    "api_dataset_augment_preview": [team_read("dataset", anonymous=API, query="?preset=light")],
    # Chunked uploads are their owner's alone (the world's owner is none of the visitors): 404 to others.
    "api_chunked_uploads": [signed_in(anonymous=API), creating(API, 400)],
    "api_chunked_upload": [
        Case("get", "upload", {**dict.fromkeys(ROLES, 404), "anonymous": API}),
        Case("patch", "upload", {**dict.fromkeys(ROLES, 404), "anonymous": API}),
    ],
    "api_chunked_upload_finish": [Case("post", "upload", {**dict.fromkeys(ROLES, 404), "anonymous": API})],
    # nginx's auth_request: 204 for anyone signed in, the API's refusal for the rest.
    "session_check": [signed_in(anonymous=API, ok=204)],
    # Results of a finished run: viewers read them (and predict: it changes nothing).
    "experiment_results": [team_read("finished")],
    "experiment_download": [team_read("export")],
    "experiment_confusion_images": [team_read("finished", query="?label=a&predicted=a")],
    "experiment_test_image": [team_read("test_image")],
    "experiment_compare": [team_read(None, query="?ids={finished},{experiment}")],
    "api_experiment_predict": [Case("post", "finished", team_read("finished", anonymous=API, ok=400).expect)],
    "api_experiment_exports": [team_read("finished", anonymous=API)],
    "api_experiment_export": [team_read("export", anonymous=API)],
    "sweep_list": [signed_in()],
    "sweep_create": [signed_in(), signed_in("post")],  # the form again, with its errors (as experiment_create)
    "sweep_estimate": [signed_in("post", ok=400)],  # the form's errors, as JSON
    "sweep_detail": [team_read("sweep")],
    "sweep_stop": [team_write("post", "sweep", 302)],
    "sweep_resume": [team_write("post", "sweep", 302)],  # it is running: a message says so
    "sweep_add_trials": [team_write("post", "sweep", 302, data={"trials": 1})],
    "sweep_widen": [team_write("post", "sweep", 400)],  # the page again, with its errors: nothing changed
    "api_sweep_list": [signed_in(anonymous=API), creating(API, 400, data={"name": "x"})],
    "api_sweep_detail": [team_read("sweep", anonymous=API)],
    "api_sweep_stop": [team_write("post", "sweep", 200, anonymous=API)],
    "api_sweep_resume": [team_write("post", "sweep", 409, anonymous=API)],  # it is running
    "api_sweep_add_trials": [team_write("post", "sweep", 200, anonymous=API, data={"trials": 1})],
    "api_sweep_widen": [team_write("post", "sweep", 400, anonymous=API)],  # no space given
}
# The admin: staff only (others go to its login page); its routes are checked by kind, below.
ADMIN_SPECIAL = {
    "admin:login": {"anonymous": 200, "outsider": 200, "viewer": 200, "member": 200, "superuser": 302},
    "admin:logout": {**dict.fromkeys(ROLES, 302), "superuser": 405},  # POST only, for staff
    "admin:autocomplete": {**dict.fromkeys(ROLES, 302), "superuser": 403},  # without its parameters
    "admin:view_on_site": dict.fromkeys(ROLES, 302),
}
# Records the app writes itself (sign-in attempts, rejected uploads): nobody adds one by hand.
for model in (
    "axes_accessattempt",
    "axes_accesslog",
    "axes_accessfailurelog",
    "datasets_rejection",
    "datasets_chunkedupload",
):
    ADMIN_SPECIAL[f"admin:{model}_add"] = {**dict.fromkeys(ROLES, 302), "superuser": 403}
CATCH_ALL = r"admin/(?P<url>.*)$"
ADMIN_SPECIAL[CATCH_ALL] = {**dict.fromkeys(ROLES, 302), "superuser": 404}
# Websockets: "denied" closes the connection (4403) before accepting it.
WS_MATRIX = {
    "ws/experiments/": {"anonymous": False, "outsider": True, "viewer": True, "member": True, "superuser": True},
    "ws/experiments/<int:pk>/": {
        **{"anonymous": False, "outsider": False, "superuser": False},
        **{"viewer": True, "member": True},
    },
    "ws/sweeps/<int:pk>/": {
        **{"anonymous": False, "outsider": False, "superuser": False},
        **{"viewer": True, "member": True},
    },
}
WS_OBJECT = {"ws/experiments/<int:pk>/": "experiment", "ws/sweeps/<int:pk>/": "sweep"}


def routes(patterns=None, prefix: str = "", namespace: str | None = None):
    """(route, name, pattern) of every URL the project serves."""
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            inner = ":".join(filter(None, [namespace, p.namespace]))
            yield from routes(p.url_patterns, prefix + str(p.pattern), inner or None)
        elif isinstance(p, URLPattern):
            name = f"{namespace}:{p.name}" if namespace and p.name else p.name
            yield prefix + str(p.pattern), name or prefix + str(p.pattern), p


ALL_ROUTES = list(routes())
APP_ROUTES = [(route, name) for route, name, _ in ALL_ROUTES if not route.startswith("admin/")]
ADMIN_ROUTES = [(route, name, p) for route, name, p in ALL_ROUTES if route.startswith("admin/")]


def test_every_route_has_an_entry():
    """A route added to the URL configuration or the websocket routing must get its entry here."""
    names = {name for _, name in APP_ROUTES}
    assert names - set(MATRIX) == set(), "routes without an entry in the permission matrix"
    assert set(MATRIX) - names == set(), "entries for routes that no longer exist"
    ws_routes = {str(p.pattern) for p in websocket_urlpatterns}
    assert ws_routes == set(WS_MATRIX), "websocket routes and their matrix differ"
    assert len(ADMIN_ROUTES) > 10


@pytest.fixture(autouse=True)
def _quick_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db, team, other_team, owner, teammate, viewer, outsider, django_user_model):
    dataset = folder_dataset(team)
    experiment = new_experiment(dataset, owner)
    EpochMetric.objects.create(experiment=experiment, epoch=1, train_loss=1, train_acc=0.5, lr=0.1, seconds=1)
    experiment.set_tags(["x"])
    Group.objects.create(name="staff")
    Token.objects.create(user=owner)
    Rejection.objects.create(dataset_id=999, team=team, name="broken", user=owner, message="not an archive")
    new_upload(team, owner)
    admin_log_rows()
    superuser = django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    users = {"anonymous": None, "outsider": outsider, "viewer": viewer, "member": teammate, "superuser": superuser}
    assert teammate.memberships.get().role == Role.MEMBER
    sweep = sweep_with_trial(owner, dataset)
    return {"users": users, "experiment": experiment, "dataset": dataset, "owner": owner, "sweep": sweep}


@pytest.fixture
def finished_run(world) -> Experiment:
    return trained_run(world["dataset"], world["owner"])


def admin_log_rows() -> None:
    """A row of each of django-axes' models (a failed sign-in, its log), so their admin pages have one."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    who = {"username": "someone", "ip_address": "10.0.0.1", "user_agent": "test", "path_info": "/login/"}
    AccessAttempt.objects.create(**who, get_data="", post_data="", failures_since_start=1)
    AccessLog.objects.create(**who)
    AccessFailureLog.objects.create(**who, locked_out=False)


def new_experiment(dataset, owner) -> Experiment:
    config = {"arch": "small_cnn", "epochs": 2}
    return Experiment.objects.create(team=dataset.team, owner=owner, dataset=dataset, name="secret run", config=config)


def new_upload(team, owner) -> ChunkedUpload:
    from datetime import timedelta

    from django.utils import timezone

    expires = timezone.now() + timedelta(hours=1)
    return ChunkedUpload.objects.create(owner=owner, team=team, filename="big.zip", size=100, expires_at=expires)


def url_for(name: str, case: Case, world) -> str:
    # A new queued experiment (and sweep) for each case: a member's write (a cancel, say) must not change
    # the next case.
    experiment = new_experiment(world["dataset"], world["owner"])
    finished = world.get("finished")
    args = {
        None: [],
        "experiment": [experiment.pk],
        "finished": [getattr(finished, "pk", None)],
        "export": [getattr(finished, "pk", None), "card_json"],
        "test_image": [getattr(finished, "pk", None), 0],
        "dataset": [world["dataset"].pk],
        "sample": [world["dataset"].pk, 0, 0],
        "sweep": [sweep_with_trial(world["owner"], world["dataset"]).pk if case.on == "sweep" else None],
        "upload": [new_upload(world["dataset"].team, world["owner"]).pk if case.on == "upload" else None],
    }[case.on]
    query = case.query.format(experiment=experiment.pk, finished=getattr(finished, "pk", None))
    return reverse(name, args=args) + query


def status_of(client, user, method: str, url: str, data: dict) -> int:
    client.logout()
    if user is not None:
        client.force_login(user)
    if method == "get":
        return client.get(url).status_code
    if method == "patch":
        return client.patch(url, data, content_type="application/json").status_code
    return client.post(url, data).status_code


def test_every_route_answers_each_visitor_as_the_matrix_says(client, world, finished_run):
    world = {**world, "finished": finished_run}
    wrong = {}
    for _, name in APP_ROUTES:
        for case in MATRIX[name]:
            url = url_for(name, case, world)
            got = {role: status_of(client, world["users"][role], case.method, url, case.data) for role in ROLES}
            if got != case.expect:
                wrong[f"{case.method.upper()} {url} ({name})"] = {
                    r: (got[r], case.expect[r]) for r in ROLES if got[r] != case.expect[r]
                }
    assert wrong == {}, "role: (got, expected)"


def admin_url(route: str, name: str, world) -> str:
    """The route with a real row of its model (or the names the admin's own routes take)."""
    if name == "admin:app_list":
        return reverse(name, kwargs={"app_label": "experiments"})
    if name == "admin:view_on_site":
        experiment = world["experiment"]
        return reverse(name, args=[ContentType.objects.get_for_model(experiment).pk, experiment.pk])
    if name == CATCH_ALL:
        return "/admin/no-such-page/"
    if "<" not in route:
        return "/" + route
    app_label, model_name = route.split("/")[1:3]
    model = apps.get_model(app_label, model_name)
    row = model._default_manager.order_by("pk").first()
    assert row is not None, f"the matrix needs a {model.__name__} row to check {route}"
    url = re.sub(r"<(?:path:|int:)?(?:object_id|id|pk)>", str(row.pk), route)
    return "/" + re.sub(r"<int:\w+>", "0", url)


def test_the_admin_is_for_staff_only(client, world):
    wrong = {}
    for route, name, _ in ADMIN_ROUTES:
        url = admin_url(route, name, world)
        expect = ADMIN_SPECIAL.get(name, {**dict.fromkeys(ROLES, 302), "superuser": 200})
        if not name.startswith("admin:") and name not in ADMIN_SPECIAL:  # an object URL: to its change page
            expect = dict.fromkeys(ROLES, 302)
        got = {role: status_of(client, world["users"][role], "get", url, {}) for role in ROLES}
        if got != expect:
            wrong[url] = {r: (got[r], expect[r]) for r in ROLES if got[r] != expect[r]}
    assert wrong == {}, "role: (got, expected)"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", list(WS_MATRIX))
async def test_the_websocket_admits_each_visitor_as_the_matrix_says(route, world):
    app = URLRouter(websocket_urlpatterns)
    path = "/" + route
    if route in WS_OBJECT:
        path = path.replace("<int:pk>", str(world[WS_OBJECT[route]].pk))
    for role in ROLES:
        user = world["users"][role]
        if user is None:
            from django.contrib.auth.models import AnonymousUser

            user = AnonymousUser()
        communicator = WebsocketCommunicator(app, path)
        communicator.scope["user"] = user
        connected, _ = await communicator.connect()
        assert connected == WS_MATRIX[route][role], (route, role)
        await communicator.disconnect()
