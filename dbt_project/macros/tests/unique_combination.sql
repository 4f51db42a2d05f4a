{#- Primary-key test over several columns (the dbt hub, and so dbt_utils, is not reachable). -#}
{% test unique_combination(model, columns) %}

select {{ columns | join(', ') }}, count(*) as copies
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
