"""Records Aave v3.6 liquidation outcomes as test vectors for softliq's `aave_v3` profile.

Deploys aave-v3-origin 3.6.0 (compiled by compile.cjs from the npm package) into an in-memory
EVM (pyrevm), lists random reserves, opens random multi-reserve accounts, lets interest accrue,
moves prices, and calls `getUserAccountData` and `liquidationCall`. Each case records what the
Rust side needs as inputs (reserve parameters, prices, the indexes at the block, the borrower's
scaled balances and collateral flags, the call) and what Aave did (account data, the amounts
moved, the protocol fee, deficits created, the borrower's balances after, or the revert's error
name). Run by hand (see README.md); CI replays the committed JSON only.
"""

import argparse
import json
import random
import sys
from pathlib import Path

from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address
from pyrevm import EVM, BlockEnv, CfgEnv, Env

HERE = Path(__file__).resolve().parent
ARTIFACTS = json.loads((HERE / "build" / "artifacts.json").read_text())
UINT_MAX = 2**256 - 1
RAY = 10**27

OWNER = "0x" + "11" * 20
WHALE = "0x" + "22" * 20
BORROWER = "0x" + "33" * 20
LIQUIDATOR = "0x" + "44" * 20
TREASURY = "0x" + "55" * 20


def selector(signature):
    return keccak(text=signature)[:4]


def error_names():
    """Selector -> name for every custom error in the compiled ABIs."""
    names = {}
    for art in ARTIFACTS.values():
        for item in art["abi"]:
            if item["type"] == "error":
                sig = item["name"] + "(" + ",".join(i["type"] for i in item["inputs"]) + ")"
                names[selector(sig)] = item["name"]
    return names


ERRORS = error_names()


class Reverted(Exception):
    def __init__(self, name):
        super().__init__(name)
        self.name = name


def revert_name(exc):
    """The Aave error name in a pyrevm revert message, or the raw message."""
    text = str(exc)
    at = text.find("output: 0x")
    if at >= 0:
        start = at + len("output: ")
        if True:
            end = start + 2
            while end < len(text) and text[end] in "0123456789abcdefABCDEF":
                end += 1
            data = bytes.fromhex(text[start + 2 : end])
            if len(data) == 36 and data[:4] == selector("Panic(uint256)"):
                return "Panic(0x%02x)" % int.from_bytes(data[4:], "big")
            if len(data) >= 4 and data[:4] in ERRORS:
                return ERRORS[data[:4]]
            if not data:
                return "EmptyRevert"
            return "0x" + data.hex()
    return text


class Chain:
    def __init__(self, timestamp):
        self.timestamp = timestamp
        self.evm = EVM(
            env=Env(cfg=CfgEnv(limit_contract_code_size=2**20), block=BlockEnv(timestamp=timestamp, number=1)),
            spec_id="SHANGHAI",
        )
        for who in (OWNER, WHALE, BORROWER, LIQUIDATOR):
            self.evm.set_balance(who, 10**24)

    def warp(self, seconds):
        self.timestamp += seconds
        self.evm.set_block_env(BlockEnv(timestamp=self.timestamp, number=self.timestamp))

    def deploy(self, name, types=(), args=(), links=None):
        art = ARTIFACTS[name]
        code = art["bytecode"]
        for file, libs in art["links"].items():
            for lib in libs:
                placeholder = "__$" + keccak(text=f"{file}:{lib}").hex()[:34] + "$__"
                code = code.replace(placeholder, links[lib][2:].lower())
        data = bytes.fromhex(code) + encode(list(types), list(args))
        return to_checksum_address(self.evm.deploy(OWNER, data, gas=2**40))

    def send(self, sender, to, signature, types=(), args=(), returns=()):
        data = selector(signature) + encode(list(types), list(args))
        try:
            out = self.evm.message_call(sender, to, data, gas=2**40)
        except Exception as exc:  # pyrevm raises RuntimeError with the revert data
            raise Reverted(revert_name(exc)) from None
        return decode(list(returns), out) if returns else None

    def view(self, to, signature, types=(), args=(), returns=()):
        out = self.send(OWNER, to, signature, types, args, returns)
        return out[0] if len(returns) == 1 else out


class Market:
    """One Aave v3.6 pool with `n` reserves listed by its own configurator."""

    def __init__(self, chain, rng, n):
        self.chain = c = chain
        self.rng = rng
        provider = c.deploy("PoolAddressesProvider", ["string", "address"], ["softliq", OWNER])
        c.send(OWNER, provider, "setACLAdmin(address)", ["address"], [OWNER])
        acl = c.deploy("ACLManager", ["address"], [provider])
        c.send(OWNER, provider, "setACLManager(address)", ["address"], [acl])
        c.send(OWNER, acl, "addPoolAdmin(address)", ["address"], [OWNER])
        links = {}
        for lib in ("BorrowLogic", "SupplyLogic", "PoolLogic", "LiquidationLogic", "ConfiguratorLogic"):
            links[lib] = c.deploy(lib)
        links["FlashLoanLogic"] = c.deploy("FlashLoanLogic", links=links)
        strategy = c.deploy("DefaultReserveInterestRateStrategyV2", ["address"], [provider])
        pool_impl = c.deploy("PoolInstance", ["address", "address"], [provider, strategy], links)
        c.send(OWNER, provider, "setPoolImpl(address)", ["address"], [pool_impl])
        self.pool = c.view(provider, "getPool()", returns=["address"])
        conf_impl = c.deploy("PoolConfiguratorInstance", links=links)
        c.send(OWNER, provider, "setPoolConfiguratorImpl(address)", ["address"], [conf_impl])
        self.configurator = c.view(provider, "getPoolConfigurator()", returns=["address"])
        self.oracle = c.deploy("PriceOracle")
        c.send(OWNER, provider, "setPriceOracle(address)", ["address"], [self.oracle])
        a_impl = c.deploy("ATokenInstance", ["address", "address", "address"], [self.pool, "0x" + "00" * 20, TREASURY])
        v_impl = c.deploy("VariableDebtTokenInstance", ["address", "address"], [self.pool, "0x" + "00" * 20])
        self.reserves = []
        for i in range(n):
            self.reserves.append(self.list_reserve(i, a_impl, v_impl))

    def list_reserve(self, i, a_impl, v_impl):
        c, rng = self.chain, self.rng
        decimals = rng.choice([6, 6, 8, 18, 18, 18, 9, 24])
        symbol = f"T{i}"
        token = c.deploy("TestnetERC20", ["string", "string", "uint8", "address"], [symbol, symbol, decimals, OWNER])
        rate = encode(
            ["(uint16,uint32,uint32,uint32)"],
            [(rng.choice([4500, 8000, 9000, 9200]), rng.choice([0, 0, 100, 500]), rng.choice([300, 400, 700]), rng.choice([3000, 6000, 30000]))],
        )
        init = (a_impl, v_impl, token, "a" + symbol, "a" + symbol, "v" + symbol, "v" + symbol, b"", rate)
        c.send(
            OWNER,
            self.configurator,
            "initReserves((address,address,address,string,string,string,string,bytes,bytes)[])",
            ["(address,address,address,string,string,string,string,bytes,bytes)[]"],
            [[init]],
        )
        lt = rng.choice([rng.randint(4000, 9500), 8250, 8600, 7800, 9524, 9300])
        ltv = max(1, lt - rng.choice([0, 50, 300, 500, 1000]))
        bonus_max = (10000 * 10000 + 5000) // lt  # largest bonus with percentMul(lt, bonus) <= 100%
        while (lt * bonus_max + 5000) // 10000 > 10000:
            bonus_max -= 1
        bonus = rng.randint(10001, min(bonus_max, 11500))
        if rng.random() < 0.2:
            bonus = min(bonus_max, 11500)
        fee = rng.choice([0, 1000, 1000, 2000, 5000, rng.randint(0, 10000)])
        c.send(OWNER, self.configurator, "configureReserveAsCollateral(address,uint256,uint256,uint256)", ["address", "uint256", "uint256", "uint256"], [token, ltv, lt, bonus])
        c.send(OWNER, self.configurator, "setReserveBorrowing(address,bool)", ["address", "bool"], [token, True])
        c.send(OWNER, self.configurator, "setLiquidationProtocolFee(address,uint256)", ["address", "uint256"], [token, fee])
        price = self.random_price(decimals)
        c.send(OWNER, self.oracle, "setAssetPrice(address,uint256)", ["address", "uint256"], [token, price])
        a_token = c.view(self.pool, "getReserveAToken(address)", ["address"], [token], ["address"])
        v_token = c.view(self.pool, "getReserveVariableDebtToken(address)", ["address"], [token], ["address"])
        for who in (WHALE, BORROWER, LIQUIDATOR):
            c.send(OWNER, token, "mint(address,uint256)", ["address", "uint256"], [who, 10**40])
            c.send(who, token, "approve(address,uint256)", ["address", "uint256"], [self.pool, UINT_MAX])
        return dict(symbol=symbol, token=token, a=a_token, v=v_token, decimals=decimals, ltv=ltv, lt=lt, bonus=bonus, fee=fee)

    def random_price(self, decimals):
        # 8-decimal USD prices from 1e-4 to 1e5 USD, plus exact round ones.
        rng = self.rng
        if rng.random() < 0.3:
            return rng.choice([1, 2000, 60000, 1]) * 10**8
        return rng.randint(10**4, 10**13)

    def price(self, r):
        return self.chain.view(self.oracle, "getAssetPrice(address)", ["address"], [r["token"]], ["uint256"])

    def set_price(self, r, price):
        self.chain.send(OWNER, self.oracle, "setAssetPrice(address,uint256)", ["address", "uint256"], [r["token"], max(1, price)])

    def supply(self, who, r, amount):
        self.chain.send(who, self.pool, "supply(address,uint256,address,uint16)", ["address", "uint256", "address", "uint16"], [r["token"], amount, who, 0])

    def borrow(self, who, r, amount):
        self.chain.send(who, self.pool, "borrow(address,uint256,uint256,uint16,address)", ["address", "uint256", "uint256", "uint16", "address"], [r["token"], amount, 2, 0, who])

    def account(self, who):
        out = self.chain.view(self.pool, "getUserAccountData(address)", ["address"], [who], ["uint256"] * 6)
        return dict(total_collateral_base=out[0], total_debt_base=out[1], health_factor=out[5])

    def user_config(self, who):
        return self.chain.view(self.pool, "getUserConfiguration(address)", ["address"], [who], ["uint256"])

    def snapshot(self, who):
        c = self.chain
        config = self.user_config(who)
        reserves, user = [], []
        for i, r in enumerate(self.reserves):
            reserves.append(
                dict(
                    decimals=r["decimals"],
                    price=str(self.price(r)),
                    ltv_bps=r["ltv"],
                    lt_bps=r["lt"],
                    bonus_bps=r["bonus"],
                    protocol_fee_bps=r["fee"],
                    liquidity_index=str(c.view(self.pool, "getReserveNormalizedIncome(address)", ["address"], [r["token"]], ["uint256"])),
                    borrow_index=str(c.view(self.pool, "getReserveNormalizedVariableDebt(address)", ["address"], [r["token"]], ["uint256"])),
                    virtual_balance=str(c.view(self.pool, "getVirtualUnderlyingBalance(address)", ["address"], [r["token"]], ["uint128"])),
                )
            )
            user.append(
                dict(
                    scaled_supply=str(c.view(r["a"], "scaledBalanceOf(address)", ["address"], [who], ["uint256"])),
                    scaled_debt=str(c.view(r["v"], "scaledBalanceOf(address)", ["address"], [who], ["uint256"])),
                    collateral=bool((config >> (2 * i + 1)) & 1),
                    borrowing=bool((config >> (2 * i)) & 1),
                )
            )
        return reserves, user

    def balances(self):
        c = self.chain
        out = []
        for r in self.reserves:
            out.append(
                dict(
                    liquidator=c.view(r["token"], "balanceOf(address)", ["address"], [LIQUIDATOR], ["uint256"]),
                    liquidator_scaled=c.view(r["a"], "scaledBalanceOf(address)", ["address"], [LIQUIDATOR], ["uint256"]),
                    treasury_scaled=c.view(r["a"], "scaledBalanceOf(address)", ["address"], [TREASURY], ["uint256"]),
                    deficit=c.view(self.pool, "getReserveDeficit(address)", ["address"], [r["token"]], ["uint256"]),
                )
            )
        return out


def open_account(m, rng, line):
    """The borrower supplies one to three reserves and borrows one or two others near its LTV."""
    n = len(m.reserves)
    order = list(range(n))
    rng.shuffle(order)
    k_coll = 1 if line else rng.randint(1, min(3, n - 1))
    colls, rest = order[:k_coll], order[k_coll:]
    debts = rest[: 1 if line else rng.randint(1, min(2, len(rest)))]
    for i in colls:
        r = m.reserves[i]
        usd = rng.choice([rng.uniform(50, 5_000), rng.uniform(1_000, 20_000), rng.uniform(5_000, 2_000_000)])
        amount = max(1, int(usd * 10**8 * 10 ** r["decimals"] // m.price(r)))
        m.supply(BORROWER, r, amount)
    acct = m.account(BORROWER)
    avail = m.chain.view(m.pool, "getUserAccountData(address)", ["address"], [BORROWER], ["uint256"] * 6)[2]
    share = rng.uniform(0.5, 0.999)
    for j, i in enumerate(debts):
        r = m.reserves[i]
        part = share / len(debts)
        usd_base = int(avail * part)
        amount = usd_base * 10 ** r["decimals"] // m.price(r)
        if amount > 0:
            try:
                m.borrow(BORROWER, r, amount)
            except Reverted:
                pass
    return colls, debts, acct


def case(seed):
    rng = random.Random(seed)
    chain = Chain(1_700_000_000)
    m = Market(chain, rng, rng.randint(2, 5))
    for r in m.reserves:  # liquidity for every reserve
        m.supply(WHALE, r, 10**8 * 10 ** r["decimals"] * 10**6 // max(1, m.price(r)) + 10 ** r["decimals"])
    line = rng.random() < 0.1  # one collateral, one debt, prices set so that HF is exactly 1
    colls, debts, _ = open_account(m, rng, line)
    if m.account(BORROWER)["total_debt_base"] == 0:
        return None
    if rng.random() < 0.7:  # interest over up to two years, with a whale borrow to raise usage
        for r in m.reserves:
            if rng.random() < 0.5:
                cash = chain.view(r["token"], "balanceOf(address)", ["address"], [r["a"]], ["uint256"])
                try:
                    m.borrow(WHALE, r, cash * rng.randint(30, 95) // 100)
                except Reverted:
                    pass
        chain.warp(rng.randint(1, 2 * 365 * 86_400))
    if rng.random() < 0.1 and len(colls) > 1:  # a collateral switched off by its owner
        r = m.reserves[rng.choice(colls)]
        try:
            chain.send(BORROWER, m.pool, "setUserUseReserveAsCollateral(address,bool)", ["address", "bool"], [r["token"], False])
        except Reverted:
            pass
    move_prices(m, rng, colls, debts)
    chain.warp(rng.randint(1, 86_400) if rng.random() < 0.5 else 1)
    if line:
        put_on_line(m, colls[0], debts[0])
    reserves, user = m.snapshot(BORROWER)
    before = m.account(BORROWER)
    coll = rng.choice(colls + ([rng.randrange(len(m.reserves))] if rng.random() < 0.1 else []))
    debt = rng.choice(debts + ([rng.randrange(len(m.reserves))] if rng.random() < 0.1 else []))
    if coll == debt:
        debt = debts[0] if debts[0] != coll else None
        if debt is None:
            return None
    owed = int(user[debt]["scaled_debt"]) * int(reserves[debt]["borrow_index"]) // RAY + 1
    debt_to_cover = rng.choice([UINT_MAX, UINT_MAX, owed, owed // 2, max(1, owed * rng.randint(1, 100) // 100), rng.randint(1, 10), owed // 2 + 1])
    receive_a_token = rng.random() < 0.25
    b0 = m.balances()
    call = dict(collateral=coll, debt=debt, debt_to_cover=str(debt_to_cover), receive_a_token=receive_a_token)
    try:
        chain.send(
            LIQUIDATOR,
            m.pool,
            "liquidationCall(address,address,address,uint256,bool)",
            ["address", "address", "address", "uint256", "bool"],
            [m.reserves[coll]["token"], m.reserves[debt]["token"], BORROWER, debt_to_cover, receive_a_token],
        )
    except Reverted as exc:
        result = dict(revert=exc.name)
    else:
        b1 = m.balances()
        _, user_after = m.snapshot(BORROWER)
        result = dict(
            ok=dict(
                debt_repaid=str(b0[debt]["liquidator"] - b1[debt]["liquidator"]),
                collateral_to_liquidator=str(b1[coll]["liquidator"] - b0[coll]["liquidator"]),
                collateral_scaled_to_liquidator=str(b1[coll]["liquidator_scaled"] - b0[coll]["liquidator_scaled"]),
                protocol_fee_scaled=str(b1[coll]["treasury_scaled"] - b0[coll]["treasury_scaled"]),
                deficits=[str(b1[i]["deficit"] - b0[i]["deficit"]) for i in range(len(m.reserves))],
                user_after=user_after,
                account_after={k: str(v) for k, v in m.account(BORROWER).items()},
            )
        )
    return dict(
        seed=seed,
        reserves=reserves,
        user=user,
        account={k: str(v) for k, v in before.items()},
        call=call,
        result=result,
    )


def put_on_line(m, ci, di):
    """Prices that put a one-collateral, one-debt account exactly at HF 1: the debt price is
    stepped until the debt's base value times 10^4 is a multiple of the collateral's LT and some
    collateral price gives exactly that value times 10^4 / LT."""
    c, d = m.reserves[ci], m.reserves[di]
    reserves, user = m.snapshot(BORROWER)
    a = int(user[ci]["scaled_supply"]) * int(reserves[ci]["liquidity_index"]) // RAY
    owed = -(-int(user[di]["scaled_debt"]) * int(reserves[di]["borrow_index"]) // RAY)
    q0 = m.price(d)
    for q in range(q0, q0 + 20_000):
        debt_base = -(-owed * q // 10 ** d["decimals"])
        if debt_base * 10_000 % c["lt"]:
            continue
        target = debt_base * 10_000 // c["lt"]
        p = -(-target * 10 ** c["decimals"] // a)
        if p > 0 and a * p // 10 ** c["decimals"] == target:
            m.set_price(d, q)
            m.set_price(c, p)
            return m.account(BORROWER)["health_factor"] == 10**18
    return False


def move_prices(m, rng, colls, debts):
    """Collateral down and debt up by random moves; sometimes onto the line HF = 1 exactly."""
    for i in colls:
        r = m.reserves[i]
        m.set_price(r, m.price(r) * rng.randint(40, 100) // 100)
    for i in debts:
        r = m.reserves[i]
        m.set_price(r, m.price(r) * rng.randint(95, 130) // 100)
    if rng.random() < 0.15:  # search the collateral price whose HF is closest to 1 from either side
        r = m.reserves[colls[0]]
        lo, hi = 1, m.price(r) * 4
        while hi - lo > 1:
            mid = (lo + hi) // 2
            m.set_price(r, mid)
            if m.account(BORROWER)["health_factor"] < 10**18:
                lo = mid
            else:
                hi = mid
        m.set_price(r, rng.choice([lo, hi]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    cases, seed = [], args.seed
    while len(cases) < args.cases:
        c = case(seed)
        seed += 1
        if c is not None:
            cases.append(c)
            print(len(cases), c["result"].get("revert", "ok"), file=sys.stderr)
    doc = dict(
        aave="aave-v3-origin 3.6.0 (npm @aave-dao/aave-v3-origin@3.6.0), solc 0.8.27, optimizer 200 runs, shanghai",
        generator="tools/aave_vectors/generate.py",
        cases=cases,
    )
    # One case per line, so that a regenerated file diffs case by case.
    head = json.dumps({k: v for k, v in doc.items() if k != "cases"})[:-1]
    lines = ",\n".join(json.dumps(c, separators=(",", ":")) for c in doc["cases"])
    args.out.write_text(head + ', "cases": [\n' + lines + "\n]}\n")


if __name__ == "__main__":
    main()
