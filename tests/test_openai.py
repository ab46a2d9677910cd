"""calm serve through the official openai Python client: chat, streaming, completions, models,
and a wrong API key; the chat text at temperature 0 is the text calm run prints."""
import subprocess
import sys

import openai

CALM, MODEL = sys.argv[1], sys.argv[2]
KEY = "sk-openai-test"
QUESTION = "What is the capital of France?"


def start():
    p = subprocess.Popen([CALM, "serve", "-m", MODEL, "--port", "0", "--parallel", "2", "-c",
                          "1024", "--api-key", KEY], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if "http://127.0.0.1:" in line:
            return p, int(line.split("http://127.0.0.1:")[1].split()[0])
    raise SystemExit(f"calm serve did not say where it listens (exit {p.wait()})")


def main():
    ref = subprocess.run([CALM, "run", "-m", MODEL, "--chat", "--temp", "0", "-n", "24", "-p",
                          QUESTION], capture_output=True, text=True, check=True).stdout
    server, port = start()
    try:
        url = f"http://127.0.0.1:{port}/v1"
        client = openai.OpenAI(base_url=url, api_key=KEY, max_retries=0)
        name = client.models.list().data[0].id
        msgs = [{"role": "user", "content": QUESTION}]
        r = client.chat.completions.create(model=name, messages=msgs, temperature=0,
                                           max_tokens=24)
        assert r.choices[0].message.content == ref, (r.choices[0].message.content, ref)
        assert r.usage.prompt_tokens > 0 and 0 < r.usage.completion_tokens <= 24, r.usage
        chunks = list(client.chat.completions.create(model=name, messages=msgs, temperature=0,
                                                     max_tokens=24, stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == ref, (text, ref)
        assert chunks[-1].choices[0].finish_reason in ("stop", "length"), chunks[-1]
        c = client.completions.create(model=name, prompt="The capital of France is",
                                      max_tokens=4, temperature=0, stop=["\n\n"])
        assert c.usage.completion_tokens <= 4 and c.choices[0].text, c
        bad = openai.OpenAI(base_url=url, api_key="sk-wrong", max_retries=0)
        try:
            bad.chat.completions.create(model=name, messages=msgs, max_tokens=4)
            raise AssertionError("a wrong API key was accepted")
        except openai.AuthenticationError:
            pass
        try:
            client.chat.completions.create(model=name, messages=msgs, temperature=7)
            raise AssertionError("temperature 7 was accepted")
        except openai.BadRequestError as e:
            assert e.body["param"] == "temperature", e.body
    finally:
        server.terminate()
        rc = server.wait(timeout=60)
    assert rc == 0, f"calm serve exited {rc}"
    print("openai client: chat, stream, completions, models, api key: ok")


main()
