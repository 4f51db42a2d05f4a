{#- Uniqueness test over several columns (the dbt hub, and so dbt_utils, is not reachable):
    gold's grain, whose columns its contracts keep not null. Trusts a valid unique index on
    exactly these columns (key_checks.sql, repeated_keys). -#}
{% test unique_combination(model, columns) %}

{{ repeated_keys(model, columns) }}

{% endtest %}
