-- Grain: one row per UTC calendar day, 2000-01-01 through 2099-12-31.
-- MetricFlow's time spine (docs/semantic-layer.md): it joins the spine for cumulative metrics,
-- zero-filled series and queries on metric_time alone. A fixed calendar, independent of the
-- data, so it never needs a publication: it is the same whatever gold holds.
with

days as (

    select generate_series(date '2000-01-01', date '2099-12-31', interval '1 day')::date
        as date_day

)

select date_day from days
