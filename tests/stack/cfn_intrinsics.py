"""Enough of CloudFormation's intrinsic functions to evaluate template.yaml's conditions and ARNs offline."""

from __future__ import annotations

import re
from typing import Any

ACCOUNT, REGION, PARTITION = "123456789012", "eu-west-1", "aws"
NO_VALUE = object()


class Evaluator:
    def __init__(self, template: dict[str, Any], parameters: dict[str, Any]) -> None:
        defaults = {name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()}
        self.template = template
        self.names: dict[str, Any] = {"AWS::Partition": PARTITION, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
                                      **defaults, **parameters}

    def condition(self, name: str) -> bool:
        return bool(self.value(self.template["Conditions"][name]))

    def value(self, node: Any) -> Any:  # noqa: PLR0911 - one branch per intrinsic
        if isinstance(node, list):
            return [item for item in (self.value(element) for element in node) if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) != 1 or not next(iter(node)).startswith(("Fn::", "Ref", "Condition")):
            return {key: value for key, value in ((k, self.value(v)) for k, v in node.items()) if value is not NO_VALUE}
        [(function, argument)] = node.items()
        if function == "Ref":
            if argument == "AWS::NoValue":
                return NO_VALUE
            return self.names.get(argument, f"<{argument}>")  # a resource's Ref: a placeholder
        if function == "Condition":
            return self.condition(argument)
        if function == "Fn::If":
            name, when_true, when_false = argument
            return self.value(when_true if self.condition(name) else when_false)
        if function == "Fn::Equals":
            left, right = (self.value(side) for side in argument)
            return left == right
        if function == "Fn::Not":
            return not self.value(argument[0])
        if function == "Fn::And":
            return all(self.value(item) for item in argument)
        if function == "Fn::Or":
            return any(self.value(item) for item in argument)
        if function == "Fn::Contains":  # Rules only: a list holds the string
            items, text = argument
            return self.value(text) in self.value(items)
        if function == "Fn::Select":
            index, items = argument
            return self.value(items)[int(self.value(index))]
        if function == "Fn::Split":
            separator, text = argument
            return str(self.value(text)).split(separator)
        if function == "Fn::Join":
            separator, items = argument
            return separator.join(self.value(items))
        if function == "Fn::GetAtt":
            return f"<{'.'.join(argument)}>"
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            scope = {**self.names, **{name: self.value(value) for name, value in variables.items()}}
            return re.sub(r"\$\{([^}!]+)\}", lambda match: str(scope.get(match.group(1), f"<{match.group(1)}>")), text)
        raise AssertionError(f"no evaluation for {function}")
