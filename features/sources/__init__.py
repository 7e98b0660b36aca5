"""Clients of the exchange and on-chain feeds that fill the store (``levercast fetch``/``record``).

One module per source: ``binance`` (USD-M REST), ``binance_archive`` (data.binance.vision zip
files), ``bybit``, ``okx``, ``deribit`` (DVOL), ``reserves`` (CryptoQuant, Glassnode, CSV),
``defillama`` (keyless CEX wallet holdings, the default reserve provider),
``liquidation_stream`` (websocket parsing, aggregation and the listener) and ``coinglass``
(aggregated liquidation history). Each client takes an injected ``features.http.HttpClient`` and
returns frames in the dataset's table formats (``features.dataset.schema.TABLES``); ``decode``
holds the shared payload-decoding helpers. Nothing is imported eagerly here so that the CLI stays
light.
"""
