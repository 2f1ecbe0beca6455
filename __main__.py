"""Entry point of the Pulumi CLI (`pulumi up` in this folder; Pulumi.yaml sets no `main`, so
Pulumi runs the project folder). The kit itself runs stacks.program inline through the
Automation API; this file is for operators who drive the stack by hand.

Why here and not stacks/: Pulumi puts the program's folder first on sys.path, where
stacks/azure and stacks/kubernetes would shadow the Azure SDKs and the kubernetes client."""

from stacks.program import main

main()
