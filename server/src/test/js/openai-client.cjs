// The official OpenAI Node SDK against a running corvus server; run by OpenAiNodeClientTest.
// Usage: node openai-client.cjs BASE_URL MODEL NPM_CLIENTS_DIR STOP_STRING
// Prints one JSON object: what each call returned, for the Java test to compare with the
// library's greedy generation.
'use strict';
const [baseURL, model, clientsDir, stop] = process.argv.slice(2);
const OpenAI = require(require.resolve('openai', { paths: [clientsDir] }));
const client = new OpenAI({ baseURL, apiKey: 'node-key', maxRetries: 0, timeout: 120000 });
const messages = [{ role: 'user', content: 'Once upon a time' }];
const greedy = { model, max_tokens: 24, temperature: 0 };

async function chatStream(params) {
  const stream = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  const out = { text: '', finish: null, usage: null, role: null, chunks: 0 };
  for await (const chunk of stream) {
    out.chunks++;
    if (chunk.usage) out.usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta.role) out.role = c.delta.role;
      if (c.delta.content) out.text += c.delta.content;
      if (c.finish_reason) out.finish = c.finish_reason;
    }
  }
  return out;
}

async function main() {
  const out = {};
  const chat = await client.chat.completions.create({ ...greedy, messages });
  out.chat = { text: chat.choices[0].message.content, role: chat.choices[0].message.role, finish: chat.choices[0].finish_reason,
    usage: chat.usage, object: chat.object };
  out.chatStream = await chatStream({ ...greedy, messages });
  const stopped = await client.chat.completions.create({ ...greedy, messages, stop: [stop] });
  out.chatStop = { text: stopped.choices[0].message.content, finish: stopped.choices[0].finish_reason };
  out.chatStreamStop = await chatStream({ ...greedy, messages, stop });

  const completion = await client.completions.create({ ...greedy, prompt: 'Once upon a time' });
  out.completion = { text: completion.choices[0].text, finish: completion.choices[0].finish_reason, usage: completion.usage };
  const stream = await client.completions.create({ ...greedy, prompt: 'Once upon a time', stream: true, stream_options: { include_usage: true } });
  out.completionStream = { text: '', usage: null, finish: null };
  for await (const chunk of stream) {
    if (chunk.usage) out.completionStream.usage = chunk.usage;
    for (const c of chunk.choices) {
      out.completionStream.text += c.text;
      if (c.finish_reason) out.completionStream.finish = c.finish_reason;
    }
  }
  const models = await client.models.list();
  out.models = models.data.map((m) => m.id);
  try {
    await client.chat.completions.create({ ...greedy, model: 'no-such-model', messages });
    out.unknownModel = 'accepted';
  } catch (e) {
    out.unknownModel = { status: e.status, code: e.code, param: e.param, type: e.type, name: e.constructor.name };
  }
  try {
    await client.chat.completions.create({ ...greedy, messages, max_tokens: 100000 });
    out.tooLong = 'accepted';
  } catch (e) {
    out.tooLong = { status: e.status, code: e.code, param: e.param, name: e.constructor.name };
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
