// check.js drives the repository's TDS test server with tedious, the
// pure-JavaScript TDS driver behind Node's mssql package: a second client,
// not Go, so that the server is held to what SQL Server sends and not to
// what go-mssqldb happens to accept.
//
//	node check.js 'sqlserver://sa:pw@127.0.0.1:14333?database=mssqltest&encrypt=disable'
//
// The argument is the DSN that `go run ./cmd/mssqltest` prints as its first
// line. Each scenario prints `ok <name>` or `FAIL <name>: <reason>`; the
// last line is `N passed, N failed`, and the exit status is 1 if any failed.
'use strict';

const crypto = require('crypto');
const { Connection, Request, TYPES } = require('tedious');

const dsn = process.argv[2];
if (!dsn) {
  console.error('usage: node check.js DSN');
  process.exit(2);
}
const url = new URL(dsn);

// A fresh connection: TDS 7.4, encryption off, the DSN's login.
function connect() {
  return new Promise((resolve, reject) => {
    const conn = new Connection({
      server: url.hostname,
      authentication: {
        type: 'default',
        options: {
          userName: decodeURIComponent(url.username),
          password: decodeURIComponent(url.password),
        },
      },
      options: {
        port: Number(url.port),
        database: url.searchParams.get('database') || undefined,
        tdsVersion: '7_4',
        encrypt: false,
        connectTimeout: 10000,
        requestTimeout: 30000,
      },
    });
    conn.on('error', () => {}); // reported through the callbacks below
    conn.connect((err) => (err ? reject(err) : resolve(conn)));
  });
}

// exec runs sql with params ([name, type, value, options]) and resolves to
// { rows, rowCount }; each row is an object of column name to value.
function exec(conn, sql, params = [], method = 'execSql') {
  return new Promise((resolve, reject) => {
    const rows = [];
    const req = new Request(sql, (err, rowCount) => (err ? reject(err) : resolve({ rows, rowCount })));
    for (const [name, type, value, options] of params) req.addParameter(name, type, value, options);
    req.on('row', (cols) => {
      const row = {};
      for (const c of cols) row[c.metadata.colName] = c.value;
      rows.push(row);
    });
    conn[method](req);
  });
}

// one runs sql and returns the single value of its single row.
async function one(conn, sql, params) {
  const { rows } = await exec(conn, sql, params);
  if (rows.length !== 1) throw new Error(`${sql}: ${rows.length} rows, want 1`);
  const vals = Object.values(rows[0]);
  if (vals.length !== 1) throw new Error(`${sql}: ${vals.length} columns, want 1`);
  return vals[0];
}

function close(conn) {
  return new Promise((resolve) => {
    if (conn.closed) return resolve();
    conn.on('end', resolve);
    conn.close();
  });
}

function cb(fn) {
  return new Promise((resolve, reject) => fn((err, ...rest) => (err ? reject(err) : resolve(rest))));
}

function want(cond, msg) {
  if (!cond) throw new Error(msg);
}

// token returns a fresh 43-character session token, as the store makes.
function token() {
  return crypto.randomBytes(32).toString('base64url');
}

// A DATETIME2(6) expiry tedious can carry exactly: a JavaScript Date has
// milliseconds, so the value has no finer part.
const expiry = new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 678));

const insert = 'INSERT INTO dbo.sessions (token, data, expiry) VALUES (@token, @data, @expiry)';
const select = 'SELECT data, expiry FROM dbo.sessions WHERE token = @token';

function sessionParams(tok, data, exp) {
  return [
    ['token', TYPES.VarChar, tok, { length: 43 }],
    ['data', TYPES.VarBinary, data, data.length > 8000 ? { length: Infinity } : { length: 8000 }],
    ['expiry', TYPES.DateTime2, exp, { scale: 6 }],
  ];
}

async function roundTrip(conn, data) {
  const tok = token();
  const ins = await exec(conn, insert, sessionParams(tok, data, expiry), 'execSql');
  want(ins.rowCount === 1, `INSERT rowCount = ${ins.rowCount}, want 1`);
  const { rows } = await exec(conn, select, [['token', TYPES.VarChar, tok, { length: 43 }]]);
  want(rows.length === 1, `SELECT gave ${rows.length} rows, want 1`);
  const got = rows[0];
  want(Buffer.isBuffer(got.data), `data is ${typeof got.data}, want a Buffer`);
  want(got.data.length === data.length, `data has ${got.data.length} bytes, want ${data.length}`);
  want(got.data.equals(data), 'data differs from what was inserted');
  want(got.expiry instanceof Date && got.expiry.getTime() === expiry.getTime(),
    `expiry = ${got.expiry && got.expiry.toISOString()}, want ${expiry.toISOString()}`);
  return tok;
}

async function count(conn, tok) {
  return one(conn, 'SELECT COUNT(*) AS n FROM dbo.sessions WHERE token = @token',
    [['token', TYPES.VarChar, tok, { length: 43 }]]);
}

const scenarios = [
  ['login', async (conn) => {
    want(await one(conn, 'SELECT 1 AS one') === 1, 'SELECT 1 did not give 1');
  }],

  ['parameters', async (conn) => {
    // The store's types, through sp_executesql.
    await roundTrip(conn, Buffer.from([0, 1, 2, 0xfe, 0xff]));
  }],

  ['value 16 MiB', async (conn) => {
    await roundTrip(conn, crypto.randomBytes(16 << 20));
  }],

  ['tvp', async (conn) => {
    // The README's table type, if the server's database lacks it.
    await exec(conn, `IF NOT EXISTS (SELECT 1 FROM sys.table_types WHERE name = 'sessions_batch')
CREATE TYPE dbo.sessions_batch AS TABLE (
    token CHAR(43) COLLATE Latin1_General_BIN2 NOT NULL PRIMARY KEY,
    data VARBINARY(MAX) NOT NULL,
    expiry DATETIME2(6) NOT NULL
)`);
    const rows = [[token(), Buffer.from('one'), expiry], [token(), Buffer.alloc(9000, 7), expiry]];
    const tvp = {
      name: 'sessions_batch',
      schema: 'dbo',
      columns: [
        { name: 'token', type: TYPES.Char, length: 43 },
        { name: 'data', type: TYPES.VarBinary, length: Infinity },
        { name: 'expiry', type: TYPES.DateTime2, scale: 6 },
      ],
      rows,
    };
    const ins = await exec(conn, 'INSERT INTO dbo.sessions (token, data, expiry) SELECT token, data, expiry FROM @batch',
      [['batch', TYPES.TVP, tvp]]);
    want(ins.rowCount === 2, `INSERT ... FROM @batch rowCount = ${ins.rowCount}, want 2`);
    for (const [tok, data] of rows) {
      const { rows: got } = await exec(conn, select, [['token', TYPES.VarChar, tok, { length: 43 }]]);
      want(got.length === 1, `row ${tok}: ${got.length} rows, want 1`);
      want(got[0].data.equals(data), `row ${tok}: data differs`);
      want(got[0].expiry.getTime() === expiry.getTime(), `row ${tok}: expiry = ${got[0].expiry.toISOString()}`);
    }
  }],

  ['named transaction committed', async (conn) => {
    const tok = token();
    await cb((done) => conn.beginTransaction(done, 'mssqltest_commit'));
    want(await one(conn, 'SELECT @@TRANCOUNT AS n') === 1, '@@TRANCOUNT after beginTransaction is not 1');
    await exec(conn, insert, sessionParams(tok, Buffer.from('c'), expiry));
    await cb((done) => conn.commitTransaction(done, 'mssqltest_commit'));
    want(await one(conn, 'SELECT @@TRANCOUNT AS n') === 0, '@@TRANCOUNT after commitTransaction is not 0');
    want(await count(conn, tok) === 1, 'the committed row is missing');
  }],

  ['named transaction rolled back', async (conn) => {
    // conn.transaction names its transaction itself (_tedious_ and hex).
    const tok = token();
    const rollback = new Error('roll back');
    const err = await new Promise((resolve) => {
      conn.transaction((err, done) => {
        if (err) return resolve(err);
        exec(conn, insert, sessionParams(tok, Buffer.from('r'), expiry))
          .then(() => one(conn, 'SELECT @@TRANCOUNT AS n'))
          .then((n) => done(n === 1 ? rollback : new Error(`@@TRANCOUNT inside = ${n}, want 1`), resolve))
          .catch((e) => done(e, resolve));
      });
    });
    want(err === rollback, `transaction: ${err && err.message}`);
    want(await one(conn, 'SELECT @@TRANCOUNT AS n') === 0, '@@TRANCOUNT after the rollback is not 0');
    want(await count(conn, tok) === 0, 'the rolled-back row is present');
  }],

  ['cancel', async (conn) => {
    // SQL Server ends the cancelled request with a DONE, then acknowledges
    // the attention in a message of its own; tedious waits for both, and
    // closes the connection after cancelTimeout (5 s) if it does not see them.
    const loop = exec(conn, 'DECLARE @i INT = 0; WHILE 1 = 1 SET @i = @i + 1;');
    let cancelledAt = 0;
    const timer = setTimeout(() => { cancelledAt = Date.now(); conn.cancel(); }, 200);
    const err = await loop.then(() => null, (e) => e);
    clearTimeout(timer);
    want(err !== null, 'the endless loop finished');
    want(err.code === 'ECANCEL', `the loop ended with ${err.code}: ${err.message}, want ECANCEL`);
    // Reused at once, well within 100 ms of the acknowledgement.
    const acked = Date.now();
    want(await one(conn, 'SELECT 1 AS one') === 1, 'SELECT 1 after the cancel did not give 1');
    return `acknowledged ${acked - cancelledAt} ms after cancel(); SELECT 1 answered ${Date.now() - acked} ms later`;
  }],

  ['reset', async (conn) => {
    // SQL Server's reset rolls back an open transaction and restores the
    // login's SET options.
    const tok = token();
    await exec(conn, 'SET NOCOUNT ON; BEGIN TRANSACTION');
    const ins = await exec(conn, insert, sessionParams(tok, Buffer.from('x'), expiry));
    want(ins.rowCount === undefined || ins.rowCount === 0, `rowCount under NOCOUNT = ${ins.rowCount}`);
    await cb((done) => conn.reset(done));
    want(await one(conn, 'SELECT @@TRANCOUNT AS n') === 0, '@@TRANCOUNT after reset is not 0');
    want(await count(conn, tok) === 0, 'the row of the transaction open at reset is present');
    const after = await exec(conn, insert, sessionParams(tok, Buffer.from('y'), expiry));
    want(after.rowCount === 1, `rowCount after reset = ${after.rowCount}, want 1 (NOCOUNT not restored)`);
  }],
];

async function main() {
  let passed = 0;
  let failed = 0;
  for (const [name, run] of scenarios) {
    let conn;
    try {
      conn = await connect();
      const note = await run(conn);
      console.log(`ok ${name}`);
      if (note) console.error(`${name}: ${note}`);
      passed++;
    } catch (err) {
      console.log(`FAIL ${name}: ${(err && (err.code ? err.code + ' ' : '') + err.message) || err}`);
      failed++;
    } finally {
      if (conn) await close(conn);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
}

main().catch((err) => {
  console.log(`FAIL main: ${err && err.stack}`);
  process.exitCode = 1;
});
