{#- Not-null test of several columns of a model in one query: dbt's `not_null` takes a node and
    a scan per column, and dbt's per-node cost is most of an incremental run's tests. A failure
    is a row with a NULL in one of the columns; `null_columns` names which. -#}
{% test not_null_columns(model, columns) %}

select
    array_remove(array[
        {%- for column in columns %}
        case when {{ column }} is null then '{{ column }}' end{{ ',' if not loop.last }}
        {%- endfor %}
    ], null) as null_columns,
    {{ columns | join(', ') }}
from {{ model }}
where {{ any_null(columns) }}

{% endtest %}
