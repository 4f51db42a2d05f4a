{#-
    The days of a gold candidate that a build changed, for publication (warehouse/publish.py)
    to replace only those days in gold instead of comparing every row of the mart.

    A day-keyed incremental mart changes its candidate in two ways inside the model's one
    transaction: its pre-hook deletes the days that may have changed (delete_changed_days,
    which records them as it deletes), and dbt's delete+insert replaces the days of the new
    rows. Those rows carry the transaction's id as xmin, so the post-hook records their days
    whatever CTE chose them (record_candidate_changes). Every build also records itself (a row
    without a day): an incremental one as such, so that a build that changed no day is told
    from a mart that records nothing, and one that is not incremental (the first build, a full
    refresh) as changing the whole mart. Records accumulate until a publication takes them, so
    a blocked publication leaves them for the next one.
-#}

{% macro create_candidate_changes_table() %}
    create table if not exists audit.candidate_changes (
        mart        text        not null,
        day_column  text        not null,
        day         date,  -- null: the build's own row
        whole       boolean     not null default false,  -- the build replaced every day
        recorded_at timestamptz not null default now()
    );
    -- a warehouse whose table predates the column
    alter table audit.candidate_changes add column if not exists whole boolean not null default false;
    {{ create_unpublished_days_function() }}
{% endmacro %}

{#-
    audit.unpublished_days(mart, day_column): the days of the mart's candidate that builds
    changed since the last publication, or NULL when only the whole mart will do: no record
    (no build since the publication, or a mart that does not record), a whole-mart record (a
    first build, a full refresh), or records of another day column.

    The data tests of a day-keyed mart test these days only (`__unpublished_days__`,
    tests/where_subquery.sql). Why that is enough: a build writes each day it changes whole
    (the pre-hook deletes the day, delete+insert replaces it) and records it, and a record
    stays until a publication takes it, which follows only a build whose tests and suites all
    passed on those days. So every row of the candidate was tested by the build that wrote
    it, or is tested now; a test whose rows cannot span two days (a grain holding the day, a
    rule on one row) needs no row of another day.
-#}
{% macro create_unpublished_days_function() %}
    create or replace function audit.unpublished_days(mart_name text, column_name text)
    returns date[] language sql stable as $$
        select case
            when count(*) = 0 or bool_or(whole) or bool_or(day_column <> column_name) then null
            else coalesce(array_agg(distinct day) filter (where day is not null), '{}')
        end
        from audit.candidate_changes
        where mart = mart_name
    $$;
{% endmacro %}

{% macro record_candidate_changes(day_column='day') -%}
    insert into audit.candidate_changes (mart, day_column, day, whole)
    values ('{{ this.identifier }}', '{{ day_column }}', null::date, {{ not is_incremental() }})
    {%- if is_incremental() %}
    union all
    select distinct '{{ this.identifier }}', '{{ day_column }}', {{ day_column }}, false
    from {{ this }}
    where xmin = xid(pg_current_xact_id())
    {%- endif %}
{%- endmacro %}
