"""Rate limits, with the limiter switched on: logins and joins per address, proposals, comments
and votes per participant (across pages, API and sockets), socket events per connection; a 429
is JSON for the API and a Danish page for people; a whole venue on one address can join."""

from __future__ import annotations

import pytest

from tests.factories import PASSWORD, join_as, make_user, make_workshop, move_to, propose
from workshop.extensions import db, socketio
from workshop.live import throttle
from workshop.live.broadcaster import NAMESPACE
from workshop.live.throttle import Throttle
from workshop.models import Participant, Proposal

pytestmark = pytest.mark.usefixtures("fast_passwords")

LIMITED = pytest.mark.app_config({
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_LOGIN": "3 per minute",
    "RATELIMIT_JOIN": "5 per minute",
    "RATELIMIT_PARTICIPANT_WRITE": "3 per minute",
    "RATELIMIT_PARTICIPANT_VOTE": "4 per minute",
    "LIVE_EVENT_BURST": 5,
    "LIVE_EVENT_RATE": 1,
})


def assert_rate_limited_json(response):
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert response.headers.get("Retry-After")


def phone(app, workshop=None, participant=None, address="203.0.113.7"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    if participant is not None:
        client.set_cookie(f"samskab_p_{workshop.code}", participant.token)
    return client


@LIMITED
def test_logins_are_limited_per_address_with_json_for_the_api_and_a_danish_page(app):
    user = make_user("facilitator")
    client = phone(app)
    for _ in range(3):
        assert client.post("/api/v1/auth/login",
                           json={"email": user.email, "password": "wrong"}).status_code == 401
    assert_rate_limited_json(client.post("/api/v1/auth/login",
                                         json={"email": user.email, "password": PASSWORD}))
    page = phone(app, address="203.0.113.8")
    for _ in range(3):
        page.post("/login", data={"email": user.email, "password": "wrong"})
    response = page.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 429
    assert response.mimetype == "text/html"
    assert "For mange forespørgsler" in response.get_data(as_text=True)
    # Another address is not affected.
    other = phone(app, address="198.51.100.1")
    assert other.post("/api/v1/auth/login",
                      json={"email": user.email, "password": PASSWORD}).status_code == 200


@pytest.mark.app_config({"RATELIMIT_ENABLED": True, "RATELIMIT_LOGIN": "3 per minute",
                         "RATELIMIT_LOGIN_ACCOUNT": "4 per minute"})
def test_failed_logins_are_also_limited_per_account_from_any_address(app):
    """Guessing one person's password from many addresses is stopped too; only failures
    count, so people who log in are never held up, and other accounts are not affected."""
    fie = make_user("facilitator", "fie@region.dk")
    bo = make_user("facilitator", "bo@region.dk")
    for n in range(4):  # four addresses, one wrong guess each (the page and the API share it)
        client = phone(app, address=f"198.51.100.{n + 1}")
        if n % 2:
            assert client.post("/login", data={"email": " FIE@region.dk", "password": "gæt"}) \
                .status_code == 400
        else:
            assert client.post("/api/v1/auth/login",
                               json={"email": fie.email, "password": "gæt"}).status_code == 401
    fifth = phone(app, address="198.51.100.50")
    assert_rate_limited_json(fifth.post("/api/v1/auth/login",
                                        json={"email": fie.email, "password": PASSWORD}))
    page = phone(app, address="198.51.100.51").post(
        "/login", data={"email": fie.email, "password": PASSWORD})
    assert page.status_code == 429 and "For mange forespørgsler" in page.get_data(as_text=True)
    # Another account is not affected, and logging in successfully never counts.
    for n in range(6):
        assert phone(app, address=f"192.0.2.{n + 1}").post(
            "/api/v1/auth/login", json={"email": bo.email, "password": PASSWORD}).status_code \
            == 200


@LIMITED
def test_joins_are_limited_per_address(app):
    workshop = make_workshop(phase="ideation")
    client = phone(app)
    for n in range(5):
        response = client.post(f"/api/v1/workshops/{workshop.code}/participants",
                               json={"display_name": f"P{n}", "consent": True})
        assert response.status_code == 201
        client.delete_cookie(f"samskab_p_{workshop.code}")
    before = db.session.query(Participant).count()
    assert_rate_limited_json(client.post(f"/api/v1/workshops/{workshop.code}/participants",
                                         json={"display_name": "P6", "consent": True}))
    assert db.session.query(Participant).count() == before


@LIMITED
def test_proposals_are_counted_per_participant_not_per_address(app):
    workshop = make_workshop(phase="ideation")
    ane, bo = join_as(workshop, "Ane"), join_as(workshop, "Bo")
    element_id = workshop.elements[0].id
    url = f"/api/v1/workshops/{workshop.code}/proposals"
    ane_phone = phone(app, workshop, ane)
    for n in range(3):
        assert ane_phone.post(url, json={"title": f"Forslag {n}",
                                         "element_id": element_id}).status_code == 201
    assert_rate_limited_json(ane_phone.post(url, json={"title": "For meget",
                                                        "element_id": element_id}))
    # A made-up cookie of another workshop sent first does not buy a fresh allowance.
    sneaky = phone(app)
    sneaky.set_cookie("samskab_p_AAAAAA", "made-up-token")
    sneaky.set_cookie(f"samskab_p_{workshop.code}", ane.token)
    assert_rate_limited_json(sneaky.post(url, json={"title": "Igen", "element_id": element_id}))
    # Bo, on the same venue address, still may.
    assert phone(app, workshop, bo).post(url, json={"title": "Bos forslag",
                                                    "element_id": element_id}).status_code == 201
    assert db.session.query(Proposal).count() == 4


@LIMITED
def test_comments_share_the_allowance_across_pages_api_and_sockets(app):
    workshop = make_workshop(phase="ideation")
    ane = join_as(workshop, "Ane")
    target = propose(workshop, join_as(workshop, "Bo"), "Bos forslag")
    client = phone(app, workshop, ane)
    assert client.post(f"/api/v1/proposals/{target.id}/comments",
                       json={"body": "Et"}).status_code == 201
    assert client.post(f"/w/{workshop.code}/proposals/{target.id}/comments",
                       data={f"comment-{target.id}-body": "To"}).status_code == 302
    with app.app_context():
        live = socketio.test_client(app, namespace=NAMESPACE, auth={"workshop": workshop.code},
                                    flask_test_client=client)
    with app.app_context():
        ack = live.emit("comment", {"proposal_id": target.id, "body": "Tre"},
                        namespace=NAMESPACE, callback=True)
    assert ack["ok"] is True
    with app.app_context():
        ack = live.emit("comment", {"proposal_id": target.id, "body": "Fire"},
                        namespace=NAMESPACE, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "rate_limited"
    response = client.post(f"/w/{workshop.code}/proposals/{target.id}/comments",
                           data={f"comment-{target.id}-body": "Fem"})
    assert response.status_code == 429
    assert "For mange forespørgsler" in response.get_data(as_text=True)
    live.disconnect(NAMESPACE)


@LIMITED
def test_socket_events_are_limited_per_connection_by_a_token_bucket(app):
    workshop = make_workshop(phase="ideation")
    ane = join_as(workshop, "Ane")
    now = [1000.0]
    throttle.throttle.clock = lambda: now[0]
    one = phone(app, workshop, ane)
    with app.app_context():
        first = socketio.test_client(app, namespace=NAMESPACE, auth={"workshop": workshop.code},
                                     flask_test_client=one)
        second = socketio.test_client(app, namespace=NAMESPACE,
                                      auth={"workshop": workshop.code}, flask_test_client=one)

    def sync(client):
        with app.app_context():
            return client.emit("sync", {}, namespace=NAMESPACE, callback=True)

    assert all(sync(first)["ok"] for _ in range(5))  # the burst
    refused = sync(first)
    assert refused["ok"] is False and refused["error"]["code"] == "rate_limited"
    assert sync(second)["ok"] is True  # per connection
    now[0] += 2.0  # two seconds at one event per second: two more
    assert sync(first)["ok"] and sync(first)["ok"]
    assert sync(first)["error"]["code"] == "rate_limited"
    first.disconnect(NAMESPACE)
    second.disconnect(NAMESPACE)
    assert len(throttle.throttle) == 0  # buckets go with their connections


def test_token_bucket_refills_up_to_its_burst():
    now = [0.0]
    bucket = Throttle(rate=2, burst=3, clock=lambda: now[0])
    assert [bucket.allow("a") for _ in range(4)] == [True, True, True, False]
    now[0] = 100.0  # long idle: back to the burst, no more
    assert [bucket.allow("a") for _ in range(4)] == [True, True, True, False]
    assert Throttle(rate=0, burst=1, enabled=False).allow("x")


@LIMITED
def test_votes_are_limited_per_participant(app):
    workshop = make_workshop(phase="ideation", dots_per_participant=10)
    ane = join_as(workshop, "Ane")
    target = propose(workshop, join_as(workshop, "Bo"), "Bos forslag")
    move_to(workshop, "voting")
    client = phone(app, workshop, ane)
    url = f"/api/v1/workshops/{workshop.code}/votes/{target.id}"
    for dots in (1, 2, 1, 0):
        assert client.put(url, json={"dots": dots}).status_code == 200
    assert_rate_limited_json(client.put(url, json={"dots": 1}))


@pytest.mark.app_config({"RATELIMIT_ENABLED": True})
def test_two_hundred_people_on_one_venue_address_join_within_a_minute_and_vote(app):
    """The default limits: a full room behind one public address (venue Wi-Fi) gets in."""
    workshop = make_workshop(phase="ideation", dots_per_participant=3)
    target = propose(workshop, join_as(workshop, "Vært"), "Fælles forslag")
    phones = []
    for n in range(200):
        client = phone(app, address="192.0.2.44")
        response = client.post(f"/j/{workshop.code}",
                               data={"display_name": f"Deltager {n}", "consent": "y"})
        assert response.status_code == 302, (n, response.status_code)
        phones.append(client)
    move_to(workshop, "voting")
    for n, client in enumerate(phones):
        response = client.post(f"/w/{workshop.code}/proposals/{target.id}/dots",
                               data={"dots": str(1 + n % 3)})
        assert response.status_code == 302, (n, response.status_code)
    assert db.session.query(Participant).count() == 201


@LIMITED
def test_without_redis_limits_are_kept_in_a_store_that_sweeps_seldom(app, monkeypatch):
    """limits' in-memory store swept every counter 10 ms after each hit, and under gevent
    started a new timer for every hit that came while one was starting (a quarter of the
    server's CPU in a 2,000-person burst). Ours schedules one sweep per interval, also when
    starting the timer yields to the other handlers; a counter still ends with its window."""
    import time

    from limits import RateLimitItemPerSecond
    from limits.strategies import FixedWindowRateLimiter

    from workshop import limit_store
    from workshop.extensions import limiter

    assert app.config["RATELIMIT_STORAGE_URI"] == "samskab-memory://"
    assert isinstance(limiter.storage, limit_store.SweepingMemoryStorage)

    store = limit_store.SweepingMemoryStorage()
    store.timer.join()  # the first sweep, which limits starts with the store
    window = FixedWindowRateLimiter(store)
    one_a_second = RateLimitItemPerSecond(1)
    started = []

    class YieldingTimer:
        """A timer whose start() lets other handlers run first, as gevent's does."""

        def __init__(self, interval, function):
            self.interval, self.function, self.daemon = interval, function, False

        def start(self):
            started.append(self.interval)
            if len(started) == 1:
                window.hit(one_a_second, "p:other", "vote")  # another handler, meanwhile

        def is_alive(self):
            return False  # not yet: still starting

    monkeypatch.setattr(limit_store.threading, "Timer", YieldingTimer)
    hits = [window.hit(one_a_second, f"p:{n}", "vote") for n in range(500)]
    assert all(hits)
    assert not window.hit(one_a_second, "p:7", "vote")  # still counted
    assert started == [limit_store.SWEEP_INTERVAL_S]  # one sweep scheduled for 501 hits
    time.sleep(1.1)
    assert window.hit(one_a_second, "p:7", "vote")  # a new window, lazily
    store._MemoryStorage__expire_events()  # what the scheduled sweep runs
    assert len(store.storage) == 1  # the expired counters' memory is given back
