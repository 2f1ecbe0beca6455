"""The AWS stack (stacks/aws/) under Pulumi mocks, as the gcp/ and azure/ folders beside."""
