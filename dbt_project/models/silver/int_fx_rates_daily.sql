-- Grain: one row per (currency, rate_date), every day from the first FX date through the later
-- of the last FX date and the last event date. Each day carries the latest rate dated on or
-- before it (docs/metrics.md), so marts join on equality.
{{ config(materialized='table', indexes=[{'columns': ['currency', 'rate_date'], 'unique': true}]) }}

with

rates as (

    select * from {{ ref('fx_rates_daily') }}

),

currencies as (

    select * from {{ ref('currencies') }}

),

bounds as (

    select
        min(rate_date) as first_day,
        greatest(
            max(rate_date),
            (select max(event_date) from {{ ref('int_events') }})
        ) as last_day
    from rates

),

calendar as (

    select generate_series(first_day, last_day, interval '1 day')::date as rate_date
    from bounds

),

days as (

    select
        currencies.currency,
        currencies.minor_units,
        calendar.rate_date,
        rates.eur_per_unit
    from currencies
    cross join calendar
    left join rates
        on rates.currency = currencies.currency
        and rates.rate_date = calendar.rate_date

),

runs as (

    -- each dated rate starts a run of days that use it until the next dated rate
    select
        *,
        count(eur_per_unit) over (partition by currency order by rate_date) as run_id
    from days

),

filled as (

    select
        currency,
        rate_date,
        max(eur_per_unit) over (partition by currency, run_id) as eur_per_unit,
        minor_units
    from runs

),

scaled as (

    select
        currency,
        rate_date,
        eur_per_unit,
        -- EUR minor units per minor unit of the currency (EUR has 2 minor units)
        eur_per_unit * power(10::numeric, 2 - minor_units) as eur_minor_per_minor
    from filled
    -- days before a currency's first rate have none
    where eur_per_unit is not null

),

final as (

    select * from scaled

)

select * from final
