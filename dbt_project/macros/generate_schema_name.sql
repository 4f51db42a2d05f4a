{#- Schemas are named exactly for their layer (bronze, silver, gold, audit, reference), not
    prefixed with the target schema: BI tools and grants depend on these names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
