// Compiles the Aave v3.6 contracts the generator deploys, with the settings of
// aave-v3-origin's foundry.toml (solc 0.8.27, optimizer 200 runs, shanghai, no metadata hash).
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const root = path.join(__dirname, 'node_modules');
const remap = [
  ['openzeppelin-contracts-upgradeable/contracts/', '@openzeppelin/contracts-upgradeable/'],
  ['openzeppelin-contracts/contracts/', '@openzeppelin/contracts/'],
  ['solidity-utils/', '@bgd-labs/solidity-utils/src/'],
];
const aave = '@aave-dao/aave-v3-origin/src/';
const entries = [
  'contracts/protocol/configuration/PoolAddressesProvider.sol',
  'contracts/protocol/configuration/ACLManager.sol',
  'contracts/instances/PoolInstance.sol',
  'contracts/instances/PoolConfiguratorInstance.sol',
  'contracts/instances/ATokenInstance.sol',
  'contracts/instances/VariableDebtTokenInstance.sol',
  'contracts/misc/DefaultReserveInterestRateStrategyV2.sol',
  'contracts/mocks/oracle/PriceOracle.sol',
  'contracts/mocks/testnet-helpers/TestnetERC20.sol',
];
function resolve(p) {
  for (const [from, to] of remap) if (p.startsWith(from)) return path.join(root, to + p.slice(from.length));
  if (p.startsWith('contracts/')) return path.join(root, aave + p);
  if (p.startsWith('src/')) return path.join(root, aave + p.slice(4));
  return path.join(root, p);
}
const input = {
  language: 'Solidity',
  sources: Object.fromEntries(entries.map((e) => [e, { content: fs.readFileSync(resolve(e), 'utf8') }])),
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'shanghai',
    metadata: { bytecodeHash: 'none' },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.bytecode.linkReferences'] } },
  },
};
function findImports(p) {
  try { return { contents: fs.readFileSync(resolve(p), 'utf8') }; } catch (e) { return { error: 'not found: ' + p }; }
}
const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (out.errors || []).filter((e) => e.severity === 'error');
if (errors.length) { console.error(errors.map((e) => e.formattedMessage).join('\n')); process.exit(1); }
const artifacts = {};
for (const [file, contracts] of Object.entries(out.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    if (!c.evm.bytecode.object) continue;
    artifacts[name] = { file, abi: c.abi, bytecode: c.evm.bytecode.object, links: c.evm.bytecode.linkReferences };
  }
}
fs.writeFileSync(path.join(__dirname, 'build', 'artifacts.json'), JSON.stringify(artifacts));
console.log('compiled', Object.keys(artifacts).length, 'contracts with solc', solc.version());
