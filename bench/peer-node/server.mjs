// Node.js peer of POST /change-subscription-interval for the side-by-side benchmark (issue 9):
// Express + stripe-node + Powertools idempotency on DynamoDB, written the usual way.
import express from 'express';
import Stripe from 'stripe';
import {
  CreateTableCommand, DynamoDBClient, ResourceInUseException, UpdateTimeToLiveCommand, waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';

const env = process.env;
const apiBase = new URL(env.STRIPE_API_BASE || 'https://api.stripe.com');
const stripe = new Stripe(env.STRIPE_SECRET_KEY, {
  apiVersion: env.STRIPE_API_VERSION || '2025-03-31.basil; checkout_server_update_beta=v1;',
  protocol: apiBase.protocol.replace(':', ''),
  host: apiBase.hostname,
  port: apiBase.port || (apiBase.protocol === 'https:' ? 443 : 80),
});

// price id -> its catalog plan; a plan price is swapped for plan.monthly / plan.yearly.
const plans = new Map();
for (const plan of JSON.parse(env.CATALOG_JSON).plans) {
  plans.set(plan.monthly, plan).set(plan.yearly, plan);
}

// The SDK reads AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL, AWS_REGION and the credentials itself.
const dynamodb = new DynamoDBClient({});
const tableName = env.PEER_IDEMPOTENCY_TABLE || 'PeerIdempotencyTable';
const idempotencyConfig = new IdempotencyConfig({
  eventKeyJmesPath: 'idempotencyKey',
  payloadValidationJmesPath: 'body',
  throwOnNoIdempotencyKey: false,
  expiresAfterSeconds: 3600,
  responseHook: (response) => ({ ...response, replayed: true }),
});
// Not in Lambda: a crashed request's INPROGRESS record may be taken over after 30 s.
idempotencyConfig.registerLambdaContext({ getRemainingTimeInMillis: () => 30_000 });

class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const changeInterval = makeIdempotent(async ({ body }) => {
  const { checkout_session_id: id, interval } = body;
  const session = await stripe.checkout.sessions.retrieve(id, { expand: ['line_items'] });
  if (session.status !== 'open' || !session.metadata?.cart_reservation) {
    throw new HttpError(409, 'session_not_updatable', 'This checkout session can no longer be changed.');
  }
  const items = session.line_items.has_more
    ? await stripe.checkout.sessions.listLineItems(id, { limit: 100 }).autoPagingToArray({ limit: 1000 })
    : session.line_items.data;
  let recurring = 0;
  const lineItems = items.map((item) => {
    if (!item.price?.recurring) return { id: item.id };
    recurring += 1;
    const plan = plans.get(item.price.id);
    if (!plan) {
      throw new HttpError(422, 'offer_not_available', `Price ${item.price.id} has no ${interval} counterpart.`);
    }
    // Same interval: keep the item; otherwise omit it and add the counterpart at its position.
    return plan[interval] === item.price.id ? { id: item.id } : { price: plan[interval], quantity: item.quantity };
  });
  if (recurring === 0) throw new HttpError(422, 'offer_not_available', 'The cart has no subscription item.');
  const updated = await stripe.checkout.sessions.update(id, { line_items: lineItems, expand: ['line_items'] });
  return {
    body: {
      type: 'success',
      session: {
        id: updated.id,
        status: updated.status,
        currency: updated.currency,
        amount_subtotal: updated.amount_subtotal,
        amount_total: updated.amount_total,
        line_items: updated.line_items.data.map((li) => ({
          id: li.id, price: li.price?.id ?? null, quantity: li.quantity, amount_total: li.amount_total,
        })),
      },
    },
  };
}, {
  persistenceStore: new DynamoDBPersistenceLayer({ tableName, awsSdkV3Client: dynamodb }),
  config: idempotencyConfig,
  keyPrefix: 'change-subscription-interval',
});

function validate(body, key) {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'invalid_json', 'The body must be a JSON object.');
  }
  const { checkout_session_id: id, interval } = body;
  if (typeof id !== 'string' || !/^cs_(test|live)_[A-Za-z0-9]{1,240}$/.test(id)) {
    throw new HttpError(400, 'invalid_request', '`checkout_session_id` must be a Checkout Session id.');
  }
  if (interval !== 'monthly' && interval !== 'yearly') {
    throw new HttpError(400, 'invalid_request', '`interval` must be "monthly" or "yearly".');
  }
  if (key !== undefined && !/^[!-~]{1,255}$/.test(key)) {
    throw new HttpError(400, 'invalid_request', 'The Idempotency-Key header must be 1 to 255 visible ASCII characters.');
  }
  return { checkout_session_id: id, interval };
}

const app = express();
app.disable('x-powered-by');
app.use(express.json({ limit: '16kb' }));

app.post('/change-subscription-interval', async (req, res) => {
  const idempotencyKey = req.get('Idempotency-Key');
  const body = validate(req.body, idempotencyKey);
  const { body: answer, replayed } = await changeInterval({ idempotencyKey, body });
  if (replayed) res.set('Idempotent-Replayed', 'true');
  res.json(answer);
});

// Express 5 forwards rejected promises of async handlers here.
app.use((err, req, res, _next) => {
  const [status, code, message] = classify(err);
  if (status >= 500) console.error(err);
  if (code === 'request_in_progress') res.set('Retry-After', '1');
  res.status(status).json({ type: 'error', code, message });
});

function classify(err) {
  if (err instanceof HttpError) return [err.status, err.code, err.message];
  if (err.type === 'entity.parse.failed') return [400, 'invalid_json', 'The body is not valid JSON.'];
  if (err.type === 'entity.too.large') return [413, 'invalid_request', 'The body is too large.'];
  if (err.name === 'IdempotencyAlreadyInProgressError') {
    return [409, 'request_in_progress', 'A request with this Idempotency-Key is in progress.'];
  }
  if (err.name === 'IdempotencyValidationError') {
    return [422, 'idempotency_key_reused', 'This Idempotency-Key was used with another body.'];
  }
  if (err instanceof Stripe.errors.StripeError) {
    if (err.code === 'resource_missing') return [404, 'session_not_found', 'No such checkout session.'];
    if (err.type === 'StripeConnectionError' || err.statusCode === 429 || err.statusCode >= 500) {
      return [502, 'payment_provider_unavailable', 'The payment provider is unavailable; try again.'];
    }
  }
  return [500, 'internal_error', 'Something went wrong on our side.'];
}

async function ensureTable() {
  try {
    await dynamodb.send(new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }));
    await waitUntilTableExists({ client: dynamodb, maxWaitTime: 60 }, { TableName: tableName });
    await dynamodb.send(new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
    }));
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
    await waitUntilTableExists({ client: dynamodb, maxWaitTime: 60 }, { TableName: tableName });
  }
}

await ensureTable();
const server = app.listen(Number(env.PORT || 0), '127.0.0.1', (err) => {
  if (err) throw err;
  console.log(`peer listening on http://127.0.0.1:${server.address().port}`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.stdin.on('end', shutdown).resume();
process.on('SIGTERM', shutdown).on('SIGINT', shutdown);
