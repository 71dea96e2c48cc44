"""Positions are asked for only where the wallet's margin evidence says they can be, and never
exported later for it: against the simulator, and as properties over any mix of evidence."""

from hypothesis import given, settings, strategies as st

from exporter.bybit.budget import RequestBudget
from exporter.bybit.endpoint import Target
from exporter.bybit.endpoints import orders, positions, wallet
from exporter.bybit.endpoints.wallet import NOT_LISTED, CoinEvidence
from exporter.config import load_text
from exporter.service.account import AccountRunner, Hosts, Shared
from exporter.service.evidence import OptionBook, WalletEvidence
from exporter.service.evidence import position_queries as positions_chooser
from exporter.service.poller import no_prices
from exporter.service.scheduling import PollScheduler
from exporter.service.store import Store
from exporter.simulator import (Holding, Position, SimAccount, calm_rate, swinging,
                                unified_wallet)
from exporter.simulator.orders import Order
from tests.conftest import parse_samples
from benchmarks.stock import build_registry
from prometheus_client import generate_latest

COINS = ("USDT", "USDC", "BTC", "ETH")
SETTLES = {positions.LINEAR_USDT: "USDT", positions.LINEAR_USDC: "USDC"}
TARGET = Target((("collector", "positions"),), positions.QUERIES)


def margined_wallet(account: SimAccount):
    """A UNIFIED wallet whose coins carry position margin exactly where the account has an
    open position settled in them, as Bybit reports it."""
    def entry(_: float) -> dict:
        settled = {p.settle_coin for p in account.positions if p.size}
        coins = [{"coin": coin, "equity": "1", "walletBalance": "1", "usdValue": "1",
                  "totalPositionIM": "12.5" if coin in settled else "0",
                  "totalPositionMM": "1.5" if coin in settled else "0"} for coin in COINS]
        return {"accountType": "UNIFIED", "totalEquity": "4", "coin": coins}
    return entry


def runner_for(sim_url: str, account_key: str, store: Store) -> AccountRunner:
    config = load_text(f"""
poll_interval: 30s
collect: [wallet, positions]
accounts:
  - name: fund
    api_key: {account_key}
    api_secret: S1
    endpoint: {sim_url}
""")
    shared = Shared(RequestBudget(), store, PollScheduler(1), Hosts(), no_prices, 5.0)
    runner = AccountRunner(config.accounts[0], {"wallet": 30.0, "positions": 30.0}, shared)
    store.set_targets(runner.targets())
    return runner


def exported_symbols(store: Store) -> set[str]:
    samples = parse_samples(generate_latest(build_registry(store)).decode())
    return {dict(labels)["symbol"] for name, labels in samples if name == "bybit_position_size"}


def position_queries(account: SimAccount, since: int) -> list[str]:
    return [query for path, query in account.calls[since:] if path == "/v5/position/list"]


def test_a_position_is_exported_by_the_positions_poll_after_a_wallet_poll_shows_its_margin(
        simulator):
    account = SimAccount(api_key="K1", secret="S1", wallets={},
                         positions=[Position("BTCUSDT", "Buy", 1.0, 100.0, swinging(100.0))])
    account.wallets["UNIFIED"] = margined_wallet(account)
    sim = simulator([account])
    store = Store(stale_after=300)
    runner = runner_for(sim.url, "K1", store)
    poll_wallet, poll_positions = runner.pollers["wallet"].poll, runner.pollers["positions"].poll
    try:
        poll_wallet()
        mark = len(account.calls)
        poll_positions()  # after the wallet's first answer: what it calls for, and options,
        # which no wallet answer can rule out (a bought option holds no margin)
        assert position_queries(account, mark) == [positions.LINEAR_USDT, positions.OPTION]
        assert exported_symbols(store) == {"BTCUSDT"}
        mark = len(account.calls)
        poll_wallet()
        poll_positions()  # margin only in USDT: only the USDT query
        assert position_queries(account, mark) == [positions.LINEAR_USDT]
        assert exported_symbols(store) == {"BTCUSDT"}
        # positions open in USDC and inverse (settled in BTC): the next wallet poll shows their
        # margin, and the positions poll that follows it, within one interval, exports them
        account.positions.extend([
            Position("ETHPERP", "Sell", 2.0, 3000.0, swinging(3000.0), settle_coin="USDC"),
            Position("BTCUSD", "Buy", 100.0, 60000.0, swinging(60000.0), category="inverse",
                     settle_coin="BTC")])
        poll_wallet()
        mark = len(account.calls)
        poll_positions()
        assert sorted(position_queries(account, mark)) == sorted(
            [positions.LINEAR_USDT, positions.LINEAR_USDC, positions.INVERSE])
        assert exported_symbols(store) == {"BTCUSDT", "ETHPERP", "BTCUSD"}
        # closed: the query that found it is asked until it answers none, then no longer
        account.positions[:] = account.positions[:1]
        poll_wallet()
        poll_positions()
        assert exported_symbols(store) == {"BTCUSDT"}
        mark = len(account.calls)
        poll_wallet()
        poll_positions()
        assert position_queries(account, mark) == [positions.LINEAR_USDT]
    finally:
        runner.client.close()


def test_without_a_wallet_answer_every_query_is_asked(simulator):
    account = SimAccount(api_key="K2", secret="S1", wallets={}, positions=[])
    account.wallets["UNIFIED"] = margined_wallet(account)
    sim = simulator([account])
    store = Store(stale_after=300)
    runner = runner_for(sim.url, "K2", store)
    try:
        for _ in range(2):
            mark = len(account.calls)
            runner.pollers["positions"].poll()
            assert sorted(position_queries(account, mark)) == sorted(positions.QUERIES)
    finally:
        runner.client.close()


states = st.sampled_from([True, False, None])
evidence_maps = st.dictionaries(st.sampled_from(COINS), states)


@given(evidence=evidence_maps, complete=st.booleans())
def test_every_settle_coin_with_margin_or_unknown_calls_for_its_query(evidence, complete):
    called = positions.queries_called_for(evidence, complete)
    for query, coin in SETTLES.items():
        state = evidence.get(coin, False if complete else None)
        assert (query in called) == (state is not False)
    others = [evidence.get(coin, False if complete else None) for coin in ("BTC", "ETH")]
    assert (positions.INVERSE in called) == (not complete or any(s is not False for s in others))


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def wallet_answer(evidence: dict) -> list[tuple[str, dict]]:
    coins = []
    for coin, state in evidence.items():
        im = {True: "3", False: "0", None: ""}[state]
        coins.append({"coin": coin, "totalPositionIM": im, "totalPositionMM": im})
    return [("accountType=UNIFIED", {"retCode": 0, "result": {"list": [
        {"accountType": "UNIFIED", "coin": coins}]}})]


def positions_answer(query: str, open_: bool) -> tuple[str, dict]:
    rows = [{"symbol": "X", "size": "1" if open_ else "0"}]
    return query, {"retCode": 0, "result": {"category": "linear", "list": rows}}


events = st.lists(st.one_of(
    st.tuples(st.just("wallet"), evidence_maps),
    st.tuples(st.just("wait"), st.floats(min_value=0, max_value=400)),
    st.tuples(st.just("positions"), st.sets(st.sampled_from(positions.QUERIES)))),
    max_size=40)


@settings(max_examples=200, deadline=None)
@given(events=events, complete=st.booleans())
def test_any_mix_of_evidence_never_skips_a_query_that_can_find_a_position(events, complete):
    """After any history of wallet answers, waits and positions answers (the set: queries
    whose answer listed an open position): a positions poll asks every query when the evidence
    is missing or older than one interval, else every query the evidence calls for, every
    query whose last answer listed a position, and every query not asked for 300 s."""
    clock = Clock()
    evidence = WalletEvidence(("UNIFIED",), complete, max_age=35.0, monotonic=clock)
    choose = positions_chooser(evidence, max_age=35.0, book=OptionBook(), monotonic=clock)
    seen_at: float | None = None
    latest: dict = {}
    last_asked: dict[str, float] = {}
    holding: set[str] = set()
    first: float | None = None  # the first positions poll: the 5 minutes count from there
    for kind, value in events:
        if kind == "wallet":
            evidence.observe(Target((("account_type", "UNIFIED"),), ()), wallet_answer(value))
            seen_at, latest = clock.now, value
        elif kind == "wait":
            clock.now += value
        else:
            first = clock.now if first is None else first
            asked = choose(TARGET)
            fresh = seen_at is not None and clock.now - seen_at <= 35.0
            if not fresh:
                assert set(asked) == set(positions.QUERIES)
            else:
                assert positions.queries_called_for(latest, complete) <= set(asked)
            assert holding <= set(asked)
            for query in positions.QUERIES:
                if clock.now - last_asked.get(query, first) >= positions.REFRESH_SECONDS:
                    assert query in asked
            for query in asked:
                last_asked[query] = clock.now
            choose.observe(TARGET, [positions_answer(q, q in value) for q in asked])
            holding = (holding - set(asked)) | {q for q in asked if q in value}


def test_wallet_evidence_reads_margin_per_coin():
    payloads = [payload for _, payload in wallet_answer({"USDT": True, "USDC": False,
                                                         "BTC": None})]
    found = wallet.coin_evidence(payloads)
    assert {coin: facts.position_margin for coin, facts in found.items()} == {
        "USDT": True, "USDC": False, "BTC": None}



# --- open orders: asked where positions are held, orders hold margin or lock coins -----------

def orders_runner(sim_url: str, store: Store) -> AccountRunner:
    config = load_text(f"""
collect: [wallet, positions, orders]
accounts:
  - {{name: desk, api_key: K3, api_secret: S1, endpoint: "{sim_url}"}}
""")
    shared = Shared(RequestBudget(), store, PollScheduler(1), Hosts(), no_prices, 5.0)
    runner = AccountRunner(config.accounts[0], {"wallet": 30.0, "positions": 30.0,
                                                "orders": 60.0}, shared)
    store.set_targets(runner.targets())
    return runner


def order_queries_sent(account: SimAccount, since: int) -> list[str]:
    return sorted(query for path, query in account.calls[since:] if path == "/v5/order/realtime")


def test_orders_are_asked_where_positions_are_held_orders_hold_margin_or_coins_are_locked(
        simulator):
    account = SimAccount(api_key="K3", secret="S1", wallets={"UNIFIED": unified_wallet(
        [Holding("USDT", 5000, 1.0, swing=0.0), Holding("ETH", 2.0, 3000)], calm_rate)},
        positions=[Position("BTCUSDT", "Buy", 0.1, 60000.0, swinging(60000.0),
                            stop_loss=55000)])
    sim = simulator([account])
    store = Store(stale_after=300)
    runner = orders_runner(sim.url, store)
    polls = [runner.pollers[name].poll for name in ("wallet", "positions", "orders")]
    try:
        mark = len(account.calls)
        for poll in polls:
            poll()
        assert order_queries_sent(account, mark) == [orders.LINEAR_USDT]
        # the position's own stop loss is an open order of its size
        assert exported(store, "bybit_position_stop_order_quantity") == {
            (("account", "desk"), ("category", "linear"), ("position_idx", "0"), ("side", "Buy"),
             ("symbol", "BTCUSDT")): 0.1}
        # a USDC limit order holds margin, a spot order locks ETH: both are asked after the
        # wallet's next answer shows them
        account.orders.extend([
            Order("ETHPERP", "Buy", 1.0, 2900.0, settle_coin="USDC", base_coin="ETH"),
            Order("ETHUSDT", "Sell", 0.5, 3500.0, category="spot", base_coin="ETH")])
        mark = len(account.calls)
        for poll in polls:
            poll()
        assert order_queries_sent(account, mark) == sorted(
            [orders.LINEAR_USDT, orders.LINEAR_USDC, orders.SPOT])
        assert exported(store, "bybit_open_orders")[
            (("account", "desk"), ("category", "spot"), ("kind", "limit"), ("side", "Sell"),
             ("symbol", "ETHUSDT"))] == 1.0
    finally:
        runner.client.close()


def exported(store: Store, family: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of one family, by their labels (sorted by name)."""
    samples = parse_samples(generate_latest(build_registry(store)).decode())
    return {labels: value for (name, labels), value in samples.items() if name == family}


coin_facts = st.builds(CoinEvidence, states, states, states)
wallet_maps = st.none() | st.dictionaries(st.sampled_from(COINS), coin_facts)


@given(holding=st.none() | st.sets(st.sampled_from(positions.QUERIES)), wallet=wallet_maps,
       complete=st.booleans())
def test_orders_are_called_for_wherever_the_evidence_cannot_rule_them_out(holding, wallet,
                                                                          complete):
    called = orders.queries_called_for(holding, wallet, complete)
    if wallet is None:
        assert called == set(orders.QUERIES)
        return
    unknown = CoinEvidence(None, None, None)
    facts = {coin: wallet.get(coin, NOT_LISTED if complete else unknown) for coin in COINS}
    for query in (holding if holding is not None else positions.QUERIES):
        if query in orders.FOR_POSITIONS:  # options: their orders are not read
            assert orders.FOR_POSITIONS[query] in called
    for coin, query in orders.STABLE_SETTLE.items():
        if facts[coin].order_margin is not False:
            assert query in called
    expected_spot = not complete or any(f.locked is not False for f in wallet.values())
    assert (orders.SPOT in called) == expected_spot
