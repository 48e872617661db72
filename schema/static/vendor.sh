#!/usr/bin/env bash
# Re-creates the browser assets GraphiQL needs (schema/static/graphiql/) and the
# graphql-js introspection fixtures of tests/schema/fixtures/, from pinned npm
# packages, with `npm pack` (no install, no build). Run it only to move to
# another version; the files it writes are committed, so users and CI need no
# Node and no network (DESIGN.md, "Pages, assets and charts").
#
#   bash schema/static/vendor.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

REACT=18.3.1
GRAPHIQL=3.9.0
EXPLORER=3.2.6
GRAPHQL_JS=16.9.0

out=schema/static/graphiql
fixtures=tests/schema/fixtures
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

unpack() { # unpack <npm spec> <dir>
  (cd "$work" && npm pack -q "$1" >/dev/null && mkdir "$2" && tar xzf ./*.tgz -C "$2" && rm ./*.tgz)
}
unpack "react@$REACT" react
unpack "react-dom@$REACT" react-dom
unpack "graphiql@$GRAPHIQL" graphiql
unpack "@graphiql/plugin-explorer@$EXPLORER" explorer
unpack "graphql@$GRAPHQL_JS" graphql

cp "$work/react/package/umd/react.production.min.js" "$out/react.production.min.js"
cp "$work/react-dom/package/umd/react-dom.production.min.js" "$out/react-dom.production.min.js"
cp "$work/graphiql/package/graphiql.min.js" "$out/graphiql.min.js"
cp "$work/graphiql/package/graphiql.min.css" "$out/graphiql.min.css"
cp "$work/explorer/package/dist/index.umd.js" "$out/plugin-explorer.umd.js"
cp "$work/explorer/package/dist/style.css" "$out/plugin-explorer.css"
# Source maps point at files we do not ship.
sed -i '/^\/\/# sourceMappingURL=/d' "$out"/*.js

{
  for pkg in react react-dom graphiql explorer; do
    name=$(node -p "require('$work/$pkg/package/package.json').name")
    version=$(node -p "require('$work/$pkg/package/package.json').version")
    license=$(node -p "require('$work/$pkg/package/package.json').license")
    echo "================================================================"
    echo "$name $version ($license)"
    echo "================================================================"
    if [ -f "$work/$pkg/package/LICENSE" ]; then
      cat "$work/$pkg/package/LICENSE"
    else
      # @graphiql/plugin-explorer's tarball carries no LICENSE file; it is
      # part of the GraphiQL monorepo under the same MIT licence.
      echo "Covered by the GraphiQL licence above (package.json: \"license\": \"$license\")."
    fi
    echo
  done
} > "$out/LICENSES.txt"

(cd "$out" && sha256sum ./*.js ./*.css > SHA256SUMS)

# The standard introspection queries GraphiQL and codegen send (tests/schema/test_introspection.py).
node -e '
const { getIntrospectionQuery } = require(process.argv[1]);
const fs = require("fs");
fs.writeFileSync(process.argv[2] + "/graphql_js_16_introspection.graphql", getIntrospectionQuery());
fs.writeFileSync(
  process.argv[2] + "/graphql_js_16_introspection_all_options.graphql",
  getIntrospectionQuery({
    descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true,
    schemaDescription: true, inputValueDeprecation: true, oneOf: true,
  }),
);
' "$work/graphql/package/index.js" "$fixtures"
echo "vendored react $REACT, graphiql $GRAPHIQL, @graphiql/plugin-explorer $EXPLORER; fixtures from graphql $GRAPHQL_JS"
