#!/usr/bin/env bash
# Puts the built console (console/dist) into a deployed stack's console bucket and
# makes CloudFront serve the new files: `make deploy-console STACK=<stack name>`.
# Needs the AWS CLI and credentials for the stack's account. Browsers revalidate every
# file (no-cache: an unchanged one answers 304), so a deploy is seen at the next load
# and the page never mixes an old app.js with a new stylesheet.
set -euo pipefail
stack="${1:?usage: infra/deploy/console.sh <stack name>}"
here="$(cd "$(dirname "$0")/../.." && pwd)"
dist="$here/console/dist"
[ -f "$dist/index.html" ] || { echo "console/dist is not built: run make console" >&2; exit 1; }
output() {
  aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
bucket="$(output ConsoleBucketName)"
distribution="$(output ConsoleDistributionId)"
url="$(output ConsoleUrl)"
aws s3 sync "$dist" "s3://$bucket/" --delete --exclude index.html --exclude size.json \
  --cache-control "no-cache"
aws s3 cp "$dist/index.html" "s3://$bucket/index.html" \
  --cache-control "no-cache" --content-type "text/html; charset=utf-8"
aws cloudfront create-invalidation --distribution-id "$distribution" --paths "/*" >/dev/null
echo "console: deployed to $url (log in with a key from: pregon admin tenant create …)"
