# The reference renderer for ChatTemplateJinja2Test: Python's Jinja2 set up as Hugging Face's
# transformers sets it up for chat templates (a sandboxed environment with trim_blocks and
# lstrip_blocks, loop controls, a {% generation %} block that renders its body, tojson as
# json.dumps(ensure_ascii=False), raise_exception and strftime_now).
# Usage: python3 jinja2_render.py JOBS.json RESULTS.json
#   JOBS: [{"template": str, "vars": {...}, "now": "YYYY-MM-DDTHH:MM:SS"}]
#   RESULTS: [{"ok": true, "text": str} | {"ok": false, "raised": bool, "error": str}]
import json
import sys
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment


class Raised(Exception):
    pass


class Generation(Extension):
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body, lineno=lineno)


def main(jobs_path, results_path):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=["jinja2.ext.loopcontrols", Generation])

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def raise_exception(message):
        raise Raised(message)

    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    results = []
    with open(jobs_path, encoding="utf-8") as f:
        jobs = json.load(f)
    for job in jobs:
        now = datetime.fromisoformat(job["now"])
        env.globals["strftime_now"] = lambda fmt, now=now: now.strftime(fmt)
        try:
            text = env.from_string(job["template"]).render(**job["vars"])
            results.append({"ok": True, "text": text})
        except Raised as e:
            results.append({"ok": False, "raised": True, "error": str(e)})
        except Exception as e:  # the template needs what the job does not give (tools, strict undefined, ...)
            results.append({"ok": False, "raised": False, "error": type(e).__name__ + ": " + str(e)})
    with open(results_path, "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
