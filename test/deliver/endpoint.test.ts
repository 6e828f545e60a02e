import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseEndpoint, redactWebhookUrl, webhookUrlProblem } from '../../src/deliver/endpoint.ts';

const Problem = suite('webhookUrlProblem');
Problem('accepts http and https URLs only', () => {
  assert.is(webhookUrlProblem('http://127.0.0.1:8080/hooks'), null);
  assert.is(webhookUrlProblem('https://hooks.example/a?b=c'), null);
  assert.match(webhookUrlProblem('ftp://h.example/x')!, /must be http/);
  assert.match(webhookUrlProblem('file:///etc/passwd')!, /must be http/);
  assert.match(webhookUrlProblem('data:text/plain,x')!, /must be http/);
  assert.match(webhookUrlProblem('/relative')!, /not a URL/);
  assert.match(webhookUrlProblem('https://h.example/x#f')!, /fragment/);
});
Problem.run();

const Parse = suite('parseEndpoint');
Parse('moves credentials into a Basic Authorization header and keeps them out of what is shown', () => {
  const e = parseEndpoint('https://us%40er:p%3Ass@hooks.example/in?token=abc&x=1');
  assert.is(e.url, 'https://hooks.example/in?token=abc&x=1');
  assert.is(e.authorization, `Basic ${Buffer.from('us@er:p:ss').toString('base64')}`);
  assert.is(e.shown, 'https://***@hooks.example/in?token=***&x=***');
  assert.match(e.key, /^[0-9a-f]{16}$/);
});
Parse('derives a stable key from the whole URL, different when any part differs', () => {
  assert.is(parseEndpoint('http://h.example/a').key, parseEndpoint('http://h.example/a').key);
  assert.is.not(parseEndpoint('http://h.example/a').key, parseEndpoint('http://h.example/b').key);
  assert.is.not(parseEndpoint('http://u:1@h.example/a').key, parseEndpoint('http://u:2@h.example/a').key);
  assert.is(parseEndpoint('http://h.example/a').authorization, null);
});
Parse('refuses what webhookUrlProblem refuses', () => {
  assert.throws(() => parseEndpoint('gopher://h.example/'), /must be http/);
});
Parse.run();

const Redact = suite('redactWebhookUrl');
Redact('never returns the password or query values, even of a URL it refuses', () => {
  assert.is(redactWebhookUrl('ftp://me:hunter2@h.example/x?k=v'), 'ftp://***@h.example/x?k=***');
  assert.is(redactWebhookUrl('nonsense hunter2'), '(not a URL)');
});
Redact.run();
