"""check-deploy: the deployment files under deploy/, checked offline.

Two kinds of checks run every time, and none is skipped:

- the project's invariants (compose, env, dockerfile, k8s, nginx modules): facts the deploy
  files must agree with, read from their single sources (config/base.toml, crates/settings,
  the api's routes, the workspace's bin targets);
- the standard validators of each file kind (tools module): check-jsonschema with the Compose
  Spec, `nginx -t`, shellcheck, hadolint, kubernetes-validate and promtool. A missing tool is a
  failure that names the install line, never a skip.

`scripts/check-deploy` installs the tools and runs `python -m check_deploy`; its own tests
(`scripts/check-deploy --self-test`) break copies of the deploy files and expect each check to
fail on them.
"""
