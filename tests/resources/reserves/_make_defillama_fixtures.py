# ruff: noqa: E501  (metadata strings copied whole from DefiLlama samples)
"""Generates the synthetic-but-shape-exact DefiLlama fixtures in this folder.

Copied from the research helper (/tmp/research/misc/fixtures/_make_defillama_fixtures.py, see
README.md here); levercast added the Bybit payload and writes the files with the
``defillama_protocol_<slug>.json`` names the tests load. The Binance and OKX files are byte for
byte the research ones.

Shape follows DefiLlama/defillama-server defi/src/api2/utils/craftProtocolV2.ts (the handler behind
GET https://api.llama.fi/protocol/{slug}): protocol metadata spread at top level, then chainTvls,
tvl, tokensInUsd, tokens, chains, currentChainTvls, raises, mcap. Values are invented; they are
internally consistent (tokensInUsd = tokens x price; totalLiquidityUSD = sum of tokensInUsd; the
top-level series = sum over chains), rounded to 5 decimals like the server's toFixed(5).
"""

import json
from pathlib import Path

DAY = 86400
DAYS = [1795737600 + i * DAY for i in range(5)]  # 2026-11-27 .. 2026-12-01 00:00 UTC
LAST = 1796130267  # 2026-12-01T13:04:27Z: the latest hourly record the server appends
DATES = [*DAYS, LAST]
PRICE = {
    "BTC": [91250.3, 90120.8, 92410.5, 93008.1, 91880.0, 92145.6],
    "WBTC": [91210.0, 90101.2, 92390.1, 92985.7, 91851.3, 92120.9],
    "BTCB": [91240.1, 90110.4, 92405.2, 93001.0, 91871.8, 92139.2],
    "WETH": [3010.2, 2975.6, 3068.9, 3101.4, 3049.7, 3060.3],
    "ETH": [3010.1, 2975.4, 3068.8, 3101.6, 3049.5, 3060.2],
    "USDT": [1.0002, 1.0001, 0.9999, 1.0, 1.0001, 1.0],
    "USDC": [0.9999, 1.0, 1.0, 0.9998, 1.0, 0.9999],
    "BNB": [880.4, 871.2, 889.9, 901.3, 893.0, 895.5],
    "OKB": [109.3, 107.8, 111.0, 112.4, 110.1, 110.6],
    "MNT": [0.912, 0.897, 0.934, 0.951, 0.926, 0.931],
}


def r5(x):
    return float(f"{x:.5f}")


def series(chains):
    """chains: {Chain: {SYMBOL: [amount per date]}} -> chainTvls, top-level series."""
    chain_tvls, tot_tok, tot_usd = {}, [{} for _ in DATES], [{} for _ in DATES]
    for chain, toks in chains.items():
        tvl, tin, tok = [], [], []
        for i, d in enumerate(DATES):
            amounts = {s: r5(v[i]) for s, v in toks.items()}
            usd = {s: r5(a * PRICE[s][i]) for s, a in amounts.items()}
            tok.append({"date": d, "tokens": amounts})
            tin.append({"date": d, "tokens": usd})
            tvl.append({"date": d, "totalLiquidityUSD": r5(sum(usd.values()))})
            if "-" in chain:  # a bucket such as "Ethereum-staking" is not summed into the tvl
                continue
            for s in amounts:
                tot_tok[i][s] = tot_tok[i].get(s, 0.0) + amounts[s]
                tot_usd[i][s] = tot_usd[i].get(s, 0.0) + usd[s]
        chain_tvls[chain] = {"tvl": tvl, "tokensInUsd": tin, "tokens": tok}
    top_tvl = [
        {"date": d, "totalLiquidityUSD": r5(sum(tot_usd[i].values()))} for i, d in enumerate(DATES)
    ]
    top_tin = [
        {"date": d, "tokens": {s: r5(v) for s, v in tot_usd[i].items()}}
        for i, d in enumerate(DATES)
    ]
    top_tok = [
        {"date": d, "tokens": {s: r5(v) for s, v in tot_tok[i].items()}}
        for i, d in enumerate(DATES)
    ]
    current = {c: v["tvl"][-1]["totalLiquidityUSD"] for c, v in chain_tvls.items()}
    return chain_tvls, top_tvl, top_tin, top_tok, current


def build(meta, chains):
    chain_tvls, tvl, tin, tok, current = series(chains)
    out = dict(meta)
    out.update(
        {
            "chainTvls": chain_tvls,
            "tvl": tvl,
            "tokensInUsd": tin,
            "tokens": tok,
            "chains": [c for c in chains if "-" not in c],
            "currentChainTvls": current,
            "raises": [],
            "mcap": None,
        }
    )
    return out


binance = build(
    {
        "id": "2269",
        "name": "Binance CEX",
        "address": None,
        "symbol": "-",
        "url": "https://www.binance.com",
        "description": "Binance is a cryptocurrency exchange which is the largest exchange in the world in terms of daily trading volume of cryptocurrencies",
        "chain": "Multi-Chain",
        "logo": "https://icons.llamao.fi/icons/protocols/binance-cex",
        "audits": "0",
        "audit_note": None,
        "gecko_id": None,
        "cmcId": None,
        "category": "CEX",
        "module": "binance/index.js",
        "twitter": "binance",
        "forkedFrom": [],
        "oracles": [],
        "listedAt": 1668170565,
        "methodology": "We collect the wallets from this Binance blog post https://www.binance.com/en/blog/community/our-commitment-to-transparency-2895840147147652626. We are not counting the Binance Recovery Fund wallet. On Ethereum, we also include staked ETH tracked via known withdrawal addresses.",
        "hallmarks": [[1670889600, "FUD and withdrawals"]],
    },
    {
        "Bitcoin": {"BTC": [612402.11, 612980.53, 611874.06, 613250.77, 613011.42, 613118.95]},
        "Ethereum": {
            "WETH": [3951210.4, 3948011.2, 3960032.9, 3957720.1, 3955410.6, 3956002.3],
            "USDT": [21.50e9, 21.48e9, 21.55e9, 21.61e9, 21.59e9, 21.60e9],
            "USDC": [8.10e9, 8.12e9, 8.09e9, 8.11e9, 8.15e9, 8.14e9],
            "WBTC": [1250.4, 1250.4, 1249.9, 1249.9, 1251.2, 1251.2],
        },
        "Binance": {  # DefiLlama's old display name for BSC (the /protocol route uses old chain names)
            "BNB": [27.10e6, 27.11e6, 27.08e6, 27.12e6, 27.10e6, 27.10e6],
            "ETH": [420110.3, 420220.8, 419870.2, 420350.1, 420301.7, 420298.4],
            "USDT": [14.20e9, 14.18e9, 14.25e9, 14.23e9, 14.22e9, 14.21e9],
        },
    },
)

okx = build(
    {
        "id": "270",
        "name": "OKX",
        "address": None,
        "symbol": "OKB",
        "url": "https://www.okx.com",
        "description": "OKX is a cryptocurrency exchange and Web3 ecosystem.",
        "chain": "Multi-Chain",
        "logo": "https://icons.llamao.fi/icons/protocols/okx",
        "audits": "0",
        "audit_note": None,
        "gecko_id": None,
        "cmcId": None,
        "category": "CEX",
        "module": "okex/index.js",
        "twitter": "okx",
        "forkedFrom": [],
        "oracles": [],
        "listedAt": 1668170565,
        "methodology": "We collect the wallets from this OKX post https://twitter.com/okx/status/1590812545346330624.",
    },
    {
        "Bitcoin": {"BTC": [128911.07, 128640.22, 129102.5, 129330.81, 129210.04, 129198.66]},
        "Ethereum": {
            "WETH": [1080233.1, 1079880.4, 1081402.7, 1082011.9, 1081760.2, 1081744.0],
            "USDT": [6.40e9, 6.38e9, 6.43e9, 6.45e9, 6.44e9, 6.44e9],
            "OKB": [35.0e6, 35.0e6, 34.9e6, 34.9e6, 34.9e6, 34.9e6],
        },
    },
)

# Bybit: metadata placeholders like OKX's (no real object was found); module bybit/index.js is
# real (DefiLlama/DefiLlama-Adapters:projects/bybit/index.js). The "Ethereum-staking" bucket is
# invented to pin the rule that non-chain buckets are not exchange wallets (DEFILLAMA.md §2.4).
bybit = build(
    {
        "id": "3220",
        "name": "Bybit",
        "address": None,
        "symbol": "MNT",
        "url": "https://www.bybit.com",
        "description": "Bybit is a cryptocurrency exchange.",
        "chain": "Multi-Chain",
        "logo": "https://icons.llamao.fi/icons/protocols/bybit",
        "audits": "0",
        "audit_note": None,
        "gecko_id": None,
        "cmcId": None,
        "category": "CEX",
        "module": "bybit/index.js",
        "twitter": "Bybit_Official",
        "forkedFrom": [],
        "oracles": [],
        "listedAt": 1668170565,
        "methodology": "We collect the wallets from Bybit's proof-of-reserves page.",
    },
    {
        "Bitcoin": {"BTC": [95120.4, 95210.9, 94980.2, 95011.7, 95302.5, 95288.1]},
        "Ethereum": {
            "WETH": [612004.2, 611850.7, 612300.1, 612711.4, 612650.9, 612640.3],
            "USDT": [3.10e9, 3.12e9, 3.09e9, 3.11e9, 3.13e9, 3.13e9],
            "MNT": [410.0e6, 410.0e6, 409.8e6, 409.8e6, 409.8e6, 409.8e6],
        },
        "Ethereum-staking": {"WETH": [41000.0, 41000.0, 41010.0, 41010.0, 41020.0, 41020.0]},
    },
)

cexs = {
    "cexs": [
        {
            "name": "Binance",
            "slug": "Binance-CEX",
            "coin": "BNB",
            "coinSymbol": "BNB",
            "walletsLink": "https://www.binance.com/en/blog/community/our-commitment-to-transparency-2895840147147652626",
            "cgId": "binance",
            "cgDeriv": "binance_futures",
            "cgSpotId": "binance",
            "currentTvl": binance["tvl"][-1]["totalLiquidityUSD"],
            "cleanAssetsTvl": r5(
                binance["tvl"][-1]["totalLiquidityUSD"]
                - binance["tokensInUsd"][-1]["tokens"]["BNB"]
            ),
            "inflows_24h": 312450117.5,
            "inflows_1w": -1204412778.2,
            "inflows_1m": 2851123456.9,
            "spotVolume": 14.2e9,
            "oi": 38.9e9,
            "derivVolume": 61.5e9,
        },
        {
            "name": "OKX",
            "slug": "okx",
            "coin": "OKB",
            "coinSymbol": "OKB",
            "walletsLink": "https://twitter.com/okx/status/1590812545346330624",
            "cgId": "okex",
            "cgDeriv": "okex_swap",
            "cgSpotId": "okex",
            "currentTvl": okx["tvl"][-1]["totalLiquidityUSD"],
            "cleanAssetsTvl": r5(
                okx["tvl"][-1]["totalLiquidityUSD"] - okx["tokensInUsd"][-1]["tokens"]["OKB"]
            ),
            "inflows_24h": -45210998.1,
            "inflows_1w": 120554003.7,
            "inflows_1m": -310442871.0,
            "spotVolume": 2.9e9,
            "oi": 11.8e9,
            "derivVolume": 24.4e9,
        },
        {
            "name": "Coinbase",
            "lastAuditDate": 1640908800,
            "auditor": "Deloitte",
            "auditLink": "https://d18rn0p25nwr6d.cloudfront.net/CIK-0001679788/8e5e0508-da75-434d-9505-cba99fa00147.pdf",
            "cgId": "gdax",
            "cgSpotId": "gdax",
            "spotVolume": 3.1e9,
        },
    ],
    "cg_volume_cexs": ["bybit-spot", "gdax", "binance", "okex"],
}
for c in cexs["cexs"][:2]:
    c["leverage"] = r5(c["oi"] / c["cleanAssetsTvl"])

here = Path(__file__).parent
(here / "defillama_protocol_binance-cex.json").write_text(json.dumps(binance, indent=1) + "\n")
(here / "defillama_protocol_okx.json").write_text(json.dumps(okx, indent=1) + "\n")
(here / "defillama_protocol_bybit.json").write_text(json.dumps(bybit, indent=1) + "\n")
(here / "defillama_cexs.json").write_text(json.dumps(cexs, indent=1) + "\n")
print("ok")
