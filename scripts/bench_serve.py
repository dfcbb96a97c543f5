#!/usr/bin/env python3
"""Load generator of scripts/bench-serve.sh (python3 stdlib only): streams of OpenAI-style
/v1/completions requests (stream: true, temperature 0) against one server, at each concurrency.

Each of C concurrent streams sends its requests one after another; a level's aggregate generated
tok/s is all its completion tokens (from the final usage chunk, else one per content chunk) over
the level's wall time; time to first token is from sending a request to its first non-empty text
chunk. Prints one TSV row per level: server, concurrency, requests, tokens, seconds, tok/s,
TTFT mean and p50 and p90 in ms.
"""
import argparse
import http.client
import json
import statistics
import threading
import time
import urllib.parse

PROMPTS = ["Once upon a time", "The little dog", "One day, a girl named Lily", "Tom had a red ball",
           "In the park", "The sun was", "Mom said", "A big fish"]


def one_request(url, model, prompt, max_tokens, api_key):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    body = json.dumps({"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True,
                       "stream_options": {"include_usage": True}})
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = "Bearer " + api_key
    start = time.perf_counter()
    conn.request("POST", "/v1/completions", body=body, headers=headers)
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"HTTP {resp.status}: {resp.read()[:300]!r}")
    ttft, chunks, usage = None, 0, None
    for raw in resp:
        line = raw.decode("utf-8").strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        event = json.loads(data)
        if event.get("usage"):
            usage = event["usage"].get("completion_tokens")
        for choice in event.get("choices") or []:
            if choice.get("text"):
                chunks += 1
                if ttft is None:
                    ttft = time.perf_counter() - start
    conn.close()
    return (usage if usage is not None else chunks), ttft


def level(url, model, concurrency, per_stream, max_tokens, api_key):
    tokens, ttfts, errors = [0], [], []
    lock = threading.Lock()

    def stream(k):
        for i in range(per_stream):
            try:
                n, ttft = one_request(url, model, PROMPTS[(k + i) % len(PROMPTS)], max_tokens, api_key)
            except Exception as e:  # reported below; the level then fails
                with lock:
                    errors.append(repr(e))
                return
            with lock:
                tokens[0] += n
                if ttft is not None:
                    ttfts.append(ttft)

    threads = [threading.Thread(target=stream, args=(k,)) for k in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    if errors:
        raise SystemExit(f"bench_serve: {len(errors)} requests failed at concurrency {concurrency}: {errors[0]}")
    ttfts.sort()
    p = lambda q: ttfts[min(len(ttfts) - 1, int(q * len(ttfts)))] * 1e3
    return concurrency * per_stream, tokens[0], seconds, statistics.mean(ttfts) * 1e3, p(0.5), p(0.9)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--name", required=True, help="the server's name in the output")
    ap.add_argument("--concurrency", default="1,4,8,16")
    ap.add_argument("--requests-per-stream", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--api-key")
    args = ap.parse_args()
    # warm-up, not measured: the JVM compiles its kernels in the first few hundred tokens, and each
    # prompt length once (a prefill of 9 or more rows takes another path than one of 4 to 8, which
    # the measured requests otherwise met cold: a 1.6 s first prefill of the 9-token prompt)
    for prompt in PROMPTS:
        one_request(args.url, args.model, prompt, args.max_tokens, args.api_key)
    for c in (int(x) for x in args.concurrency.split(",")):
        n, tok, s, mean, p50, p90 = level(args.url, args.model, c, args.requests_per_stream, args.max_tokens, args.api_key)
        print(f"{args.name}\t{c}\t{n}\t{tok}\t{s:.2f}\t{tok / s:.1f}\t{mean:.0f}\t{p50:.0f}\t{p90:.0f}", flush=True)


if __name__ == "__main__":
    main()
